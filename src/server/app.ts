import { existsSync } from "node:fs";
import type { Socket } from "node:net";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { DirigentClient } from "../client/client.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../core/payload.js";
import type { DirigentAlerts } from "../observability/alerts/alerts.js";
import type { DirigentMetrics } from "../observability/metrics.js";
import type { Engine } from "../runtime/engine.js";
import { sendError } from "./errors.js";
import { finishOpenApiDocument } from "./openapi.js";
import { registerDefinitionRoutes } from "./routes/definitions.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerAlertRoutes, registerMetricsRoute } from "./routes/observability.js";
import { registerQueueRoutes } from "./routes/queues.js";
import { registerRunRoutes } from "./routes/runs.js";
import { registerScheduleRoutes } from "./routes/schedules.js";
import { registerStatsRoutes } from "./routes/stats.js";
import { registerWorkflowRoutes } from "./routes/workflows.js";
import type { ServerState, ZodApp } from "./state.js";

/** Largest request body: a maximal payload plus room for the JSON envelope around it. */
export const DEFAULT_MAX_BODY_BYTES = DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024;

export interface BuildServerOptions {
  /** Every handler goes through this client, never to the store. */
  client: DirigentClient;
  /** The engine behind the client, when it runs in this process (worker protocol, metrics). */
  engine?: Engine;
  /** false (default): no request logs; true or pino options: fastify's logger; or a pino-like logger. */
  logger?: boolean | { level?: string } | FastifyBaseLogger;
  /** Log each request's arrival and completion (default true; internal errors are logged either way). */
  requestLogging?: boolean;
  /** Largest accepted request body in bytes (413 PAYLOAD_TOO_LARGE beyond). */
  maxBodyBytes?: number;
  /**
   * The built dashboard to serve at / (a folder with index.html): by default dashboard/dist of this
   * repository when it has been built; false serves none.
   */
  dashboardDir?: string | false;
  /** Prometheus metrics to serve at /metrics. */
  metrics?: DirigentMetrics;
  /** Alerts to list at /api/v1/alerts. */
  alerts?: DirigentAlerts;
}

/** Where `npm run build` in dashboard/ puts the dashboard. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL("../../dashboard/dist/", import.meta.url));

/** Paths that are never the dashboard's: unknown ones among them get the JSON 404. */
const NOT_DASHBOARD = /^\/(api(\/|$)|openapi\.json|docs(\/|$)|healthz|readyz|metrics)/;

const states = new WeakMap<FastifyInstance, ServerState>();

function isLoggerInstance(value: unknown): value is FastifyBaseLogger {
  return (
    typeof value === "object" && value !== null && typeof (value as FastifyBaseLogger).child === "function"
  );
}

/**
 * Build the HTTP API over a client: routes under /api/v1, /healthz, /readyz, /openapi.json and /docs.
 * Every error answers JSON `{code, message, details?}` with the status of its stable code. Nothing is
 * listening yet: call `listen()`, or `inject()` in tests.
 *
 * @example
 * const app = buildServer({ client: new LocalClient(engine), engine });
 * await app.listen({ port: 7070, host: "127.0.0.1" });
 */
export function buildServer(options: BuildServerOptions): FastifyInstance {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const state: ServerState = {
    client: options.client,
    engine: options.engine,
    maxBodyBytes,
    draining: false,
    drain: new AbortController(),
  };
  const logger = options.logger ?? false;
  const app = Fastify({
    ...(isLoggerInstance(logger) ? { loggerInstance: logger } : { logger }),
    ...(options.requestLogging === false
      ? { logController: new LogController({ disableRequestLogging: true }) }
      : {}),
    bodyLimit: maxBodyBytes,
    routerOptions: { maxParamLength: 1_000 },
    // While closing, answer with our own error body (ENGINE_STOPPED) rather than fastify's plain 503.
    return503OnClosing: false,
    frameworkErrors: (error, request, reply) => {
      sendError(error, request, reply, { maxBodyBytes });
    },
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>() as unknown as ZodApp;
  states.set(app as unknown as FastifyInstance, state);

  app.setValidatorCompiler(validatorCompiler);
  // Responses are plain JSON; the response schemas document them and type the handlers.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // JSON only: fastify's text/plain parser would let other bodies through.
  app.removeContentTypeParser("text/plain");

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply, { maxBodyBytes }));
  const dashboardDir = resolveDashboardDir(options.dashboardDir);
  app.setNotFoundHandler((request, reply) => {
    // The dashboard is a single-page app: its client-side routes (/runs/x, ...) all load index.html.
    if (dashboardDir && (request.method === "GET" || request.method === "HEAD")) {
      const path = request.url.split("?")[0];
      if (!NOT_DASHBOARD.test(path)) {
        return reply.header("cache-control", "no-cache").sendFile("index.html", dashboardDir);
      }
    }
    const url = request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url;
    return reply.code(404).send({ code: "ROUTE_NOT_FOUND", message: `no route ${request.method} ${url}` });
  });
  app.addHook("preClose", async () => {
    startDraining(app as unknown as FastifyInstance);
  });

  app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Dirigent API",
        version: "1",
        description:
          "Durable workflow engine. Errors are JSON {code, message, details} with the stable codes of docs/errors.md.",
      },
      tags: [
        { name: "workflows", description: "Registered workflow definitions" },
        { name: "runs", description: "Starting, inspecting and controlling runs" },
        { name: "queues", description: "Task queues: depth, workers, limits" },
        {
          name: "workers",
          description: "The worker protocol: long-poll, heartbeat, complete, fail (docs/workers.md)",
        },
        { name: "schedules", description: "Cron schedules" },
        { name: "stats", description: "Figures for the dashboard's charts" },
        { name: "events", description: "Live feed of engine events" },
        { name: "health", description: "Liveness and readiness probes" },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: finishOpenApiDocument,
  });
  app.register(fastifySwaggerUi, { routePrefix: "/docs" });

  app.register(async (root) => {
    const api = root as unknown as ZodApp;
    api.get("/openapi.json", { schema: { hide: true } }, async () => api.swagger());
    registerHealthRoutes(api, state);
    if (options.metrics) registerMetricsRoute(api, options.metrics);
  });
  app.register(
    async (scope) => {
      const api = scope as unknown as ZodApp;
      registerWorkflowRoutes(api, state);
      registerDefinitionRoutes(api, state);
      registerRunRoutes(api, state);
      registerQueueRoutes(api, state);
      registerScheduleRoutes(api, state);
      registerStatsRoutes(api, state);
      registerEventRoutes(api, state);
      registerAlertRoutes(api, options.alerts);
    },
    { prefix: "/api/v1" },
  );
  if (dashboardDir) {
    app.register(fastifyStatic, {
      root: dashboardDir,
      prefix: "/",
      wildcard: true,
      // The page must be fetched again after a new build; the files under assets/ carry content hashes
      // in their names (Vite's build), so they never change and may be kept.
      setHeaders: (reply, path) => {
        if (path.endsWith(".html")) reply.header("cache-control", "no-cache");
        else if (/^[\\/]?assets[\\/]/.test(relative(dashboardDir, path)))
          reply.header("cache-control", "public, max-age=31536000, immutable");
      },
    });
  }
  return app as unknown as FastifyInstance;
}

/**
 * Begin draining: /readyz answers 503 and waiting long-polls answer at once with the run as it is.
 * Called by `startServer`'s shutdown before the engine stops, and by fastify's close in any case.
 */
export function startDraining(app: FastifyInstance): void {
  const state = states.get(app);
  if (!state || state.draining) return;
  state.draining = true;
  state.drain.abort();
}

/** Whether `startDraining` was called on this server. */
export function isDraining(app: FastifyInstance): boolean {
  return states.get(app)?.draining ?? false;
}

/** The dashboard folder to serve, if any: the one asked for, or the default one when it was built. */
function resolveDashboardDir(option: string | false | undefined): string | undefined {
  if (option === false) return undefined;
  const dir = option ?? DEFAULT_DASHBOARD_DIR;
  return existsSync(join(dir, "index.html")) ? dir : undefined;
}

/** Requests node's HTTP parser rejects (bad framing, huge headers) still get a JSON error body. */
function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const message =
    error.code === "HPE_HEADER_OVERFLOW" ? "request headers are too large" : "malformed HTTP request";
  const body = JSON.stringify({ code: "INVALID_ARGUMENT", message });
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
