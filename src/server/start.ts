import type { AddressInfo } from "node:net";
import closeWithGrace from "close-with-grace";
import type { FastifyInstance } from "fastify";
import { LocalClient } from "../client/local-client.js";
import { loadDefinitions } from "../dsl/registry.js";
import { combineSecrets, secretsFromEnv, secretsFromFile } from "../dsl/secrets.js";
import { createLogger, type Logger } from "../observability/logs.js";
import { attachObservability, type Observability } from "../observability/observability.js";
import { createTracing } from "../observability/tracing.js";
import { tracingOptionsFromEnv } from "../observability/tracing-env.js";
import { createEngine, type Engine } from "../runtime/engine.js";
import type { EngineOptions } from "../runtime/options.js";
import type { WorkflowDefinition } from "../runtime/workflow.js";
import type { Store } from "../store/store.js";
import { buildServer, startDraining } from "./app.js";
import { type ConfigInput, type ServerConfig, validateServerConfig } from "./config.js";
import { openStore } from "./database.js";

export { openStore };

export interface StartServerOptions extends Partial<ServerConfig> {
  /** Where log lines go and what is logged; their level and format are `logLevel` and `logFormat`. */
  logging?: {
    /** Default stdout. */
    destination?: NodeJS.WritableStream;
    /** Colour pretty lines (default: when stdout is a terminal). */
    colorize?: boolean;
    /** Log every HTTP request (default true; `dirigent dev` only at debug, as the dashboard polls). */
    requests?: boolean;
  };
  /** Environment for secrets (DIRIGENT_SECRET_<NAME>, DIRIGENT_SECRETS_FILE) and OTEL_*; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Workflows this node executes (the CLI loads them from --module; `dirigent dev` adds the examples). */
  workflows?: WorkflowDefinition[];
  /** Further engine options (nodeId, leaseMs, maxConcurrentRuns, ...). */
  engineOptions?: Omit<EngineOptions, "store" | "workflows">;
  /**
   * true (default): SIGTERM, SIGINT and fatal errors shut the server down gracefully and exit the
   * process (close-with-grace). false: the caller calls `close()` (tests, embedding).
   */
  handleSignals?: boolean;
  /** The built dashboard to serve at / (default: dashboard/dist when built; false: none). */
  dashboardDir?: string | false;
}

/** A listening server with the engine and store behind it. */
export interface RunningServer {
  readonly app: FastifyInstance;
  readonly engine: Engine;
  readonly store: Store;
  readonly client: LocalClient;
  readonly config: ServerConfig;
  /** Where it listens, e.g. http://127.0.0.1:7070 (the real port when 0 was asked for). */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful shutdown: /readyz turns 503 and long-polls answer; the engine stops claiming and gives
   * in-flight runs `shutdownGraceMs` to reach a durable point, then releases their leases; the HTTP
   * server closes after its in-flight requests; the store closes. Safe to call more than once.
   */
  close(): Promise<void>;
}

/**
 * Open the database, start an engine executing `workflows`, and serve the HTTP API on it.
 * What `dirigent server` and `dirigent dev` call (after `resolveServerConfig`).
 *
 * @example
 * const config = resolveServerConfig({ flags: { port: 8080 } });
 * const server = await startServer({ ...config, workflows: [placeOrder] });
 * console.log(`listening on ${server.url}`);
 */
function serverSecrets(env: NodeJS.ProcessEnv) {
  const fromEnv = secretsFromEnv(env);
  return env.DIRIGENT_SECRETS_FILE
    ? combineSecrets(secretsFromFile(env.DIRIGENT_SECRETS_FILE), fromEnv)
    : fromEnv;
}

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const {
    workflows = [],
    engineOptions = {},
    handleSignals = true,
    dashboardDir,
    env,
    logging = {},
    ...settings
  } = options;
  const config = validateServerConfig(settings as ConfigInput);
  const logger = serverLogger(config, logging);
  const store = await openStore(config.databaseUrl);
  let engine: Engine | undefined;
  let client: LocalClient | undefined;
  let app: FastifyInstance | undefined;
  let observability: Observability | undefined;
  try {
    // Tracing is configured by the standard OTEL_* variables and off unless they name an exporter; it
    // exists before the engine so that outgoing calls and tasks carry the run's trace.
    const tracing = createTracing(
      tracingOptionsFromEnv(env ?? process.env, { serviceName: "dirigent" }) ?? {},
    );
    engine = createEngine({
      // The settings first: options given in code (tests, embedders) win over them.
      ...(config.nodeId ? { nodeId: config.nodeId } : {}),
      leaseMs: config.leaseMs,
      pollIntervalMs: config.pollIntervalMs,
      ...engineOptions,
      store,
      workflows,
      ...(tracing.enabled ? { traceparent: tracing.traceparentFor } : {}),
    });
    observability = attachObservability(engine, { tracing, alerts: config.alerts, logger });
    // Every stored version of every declarative definition is registered before the engine claims
    // anything, so a run resumed at start-up finds the version it started on. Secrets come from
    // DIRIGENT_SECRET_<NAME> (and DIRIGENT_SECRETS_FILE): read here, at start-up, and nowhere else.
    const dsl = { secrets: serverSecrets(env ?? process.env) };
    await loadDefinitions(engine, dsl);
    await engine.start();
    client = new LocalClient(engine, { dsl });
    app = buildServer({
      client,
      engine,
      logger: logger ?? false,
      requestLogging: logging.requests ?? true,
      maxBodyBytes: config.maxBodyBytes,
      dashboardDir,
      metrics: observability.metrics,
      alerts: observability.alerts,
    });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app?.close().catch(() => {});
    await engine?.stop({ graceMs: 0 }).catch(() => {});
    await observability?.close().catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
  const port = (app.server.address() as AddressInfo).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const running = { app, engine, store, observability };

  let closing: Promise<void> | undefined;
  let signals: ReturnType<typeof closeWithGrace> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      startDraining(running.app);
      try {
        await running.engine.stop({ graceMs: config.shutdownGraceMs });
      } finally {
        await running.observability?.close().catch(() => {});
        await running.app.close();
        await running.store.close();
      }
    })();
    return closing;
  };

  if (handleSignals) {
    signals = closeWithGrace(
      { delay: config.shutdownGraceMs + 5_000, logger: config.logLevel === "silent" ? console : app.log },
      async ({ signal, err }) => {
        if (err) app!.log.error({ err }, "fatal error, shutting down");
        else app!.log.info({ signal }, "shutting down");
        await shutdown();
      },
    );
  }

  return {
    app,
    engine,
    store,
    client,
    config: { ...config, port },
    url: `http://${host}:${port}`,
    port,
    close() {
      signals?.uninstall();
      return shutdown();
    },
  };
}

/** One logger for the engine's events and the HTTP requests, or none when the level is silent. */
function serverLogger(config: ServerConfig, logging: StartServerOptions["logging"] = {}): Logger | undefined {
  if (config.logLevel === "silent") return undefined;
  return createLogger({
    level: config.logLevel,
    pretty: config.logFormat === "pretty",
    colorize: logging.colorize,
    destination: logging.destination,
  });
}
