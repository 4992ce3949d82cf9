// What `dirigent server` and `dirigent dev` share: configuration from flags, starting the server with a
// clear error for a busy port, finding out whether the dashboard is served, and the address banner.
import { request } from "node:http";
import { DirigentError } from "../core/errors.js";
import type { WorkflowDefinition } from "../runtime/workflow.js";
import type { ServerConfig } from "../server/config.js";
import type { RunningServer, StartServerOptions } from "../server/start.js";
import { c } from "./colors.js";
import type { CliContext } from "./context.js";
import { UsageError } from "./errors.js";

/** The server flags of `dirigent server` and `dirigent dev` (strings: the config validates them). */
export interface ServeFlags {
  port?: string;
  host?: string;
  config?: string;
  logLevel?: string;
  logFormat?: string;
  shutdownGraceMs?: string;
  nodeId?: string;
  leaseMs?: string;
  pollIntervalMs?: string;
}

export const SERVE_HELP = {
  port: "TCP port, 0 picks a free one (env DIRIGENT_PORT; default 7070)",
  host: "interface to listen on (env DIRIGENT_HOST; default 127.0.0.1)",
  config: "JSON or YAML file of settings and alert rules (env DIRIGENT_CONFIG); flags, then env, then file",
  logLevel:
    "request and engine logs: silent, fatal, error, warn, info, debug, trace (env DIRIGENT_LOG_LEVEL)",
  logFormat: "log lines as json or pretty (one readable line each) (env DIRIGENT_LOG_FORMAT)",
  shutdownGraceMs:
    "on SIGTERM, how long runs in flight get to reach a durable point (env DIRIGENT_SHUTDOWN_GRACE_MS)",
  nodeId:
    "this node's name in leases, spans and logs, unique per process (env DIRIGENT_NODE_ID; default generated)",
  leaseMs:
    "how long a claim on a run lasts unrenewed: failover time after a crash (env DIRIGENT_LEASE_MS; default 30000)",
  pollIntervalMs: "how often an idle node looks for due work (env DIRIGENT_POLL_INTERVAL_MS; default 1000)",
};

/**
 * Resolve and validate the server's configuration: flags > DIRIGENT_* env > config file > the
 * command's `defaults` > the server's defaults.
 */
export async function serverConfig(
  ctx: CliContext,
  flags: ServeFlags,
  defaults: Partial<Omit<ServerConfig, "alerts">> = {},
): Promise<ServerConfig> {
  if (ctx.globals.address !== undefined) {
    throw new UsageError(
      "--address names a server to talk to; choose where this one listens with --host/--port",
    );
  }
  const { resolveServerConfig } = await import("../server/config.js");
  return resolveServerConfig({
    flags: {
      databaseUrl: ctx.databaseOption,
      port: flags.port,
      host: flags.host,
      logLevel: flags.logLevel,
      logFormat: flags.logFormat,
      shutdownGraceMs: flags.shutdownGraceMs,
      nodeId: flags.nodeId,
      leaseMs: flags.leaseMs,
      pollIntervalMs: flags.pollIntervalMs,
      config: flags.config,
    },
    env: ctx.env,
    defaults,
  });
}

/**
 * Start the server; a port in use is a clear error, or (when `fallbackToFreePort`) a reason to take
 * any free port instead.
 */
export async function listen(
  ctx: CliContext,
  config: ServerConfig,
  workflows: WorkflowDefinition[],
  options: Pick<StartServerOptions, "handleSignals"> & {
    /** Log every HTTP request (default true). */
    requestLogs?: boolean;
    fallbackToFreePort?: boolean;
    onFallback?: () => void;
  },
): Promise<RunningServer> {
  const { startServer } = await import("../server/start.js");
  // Logs go where the command prints, coloured when the command's output is.
  const logging = {
    destination: ctx.out.stdout,
    colorize: c.isColorSupported,
    requests: options.requestLogs ?? true,
  };
  const start = (port: number) =>
    startServer({ ...config, port, workflows, handleSignals: options.handleSignals, logging });
  try {
    return await start(config.port);
  } catch (error) {
    if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
    if (options.fallbackToFreePort) {
      options.onFallback?.();
      return start(0);
    }
    throw new DirigentError(
      "INVALID_OPTIONS",
      `port ${config.port} on ${config.host} is in use: choose another with --port or DIRIGENT_PORT (0 picks a free one)`,
      { port: config.port, host: config.host },
    );
  }
}

/** Whether the server answers GET / with a page: the dashboard is built and served. */
export function servesDashboard(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/`, { method: "GET", agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 && String(res.headers["content-type"]).includes("text/html"));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** Where things are, for the banner and for `-o json`. */
export interface ServerAddresses {
  url: string;
  api: string;
  docs: string;
  /** Undefined when the dashboard is not built. */
  dashboard?: string;
  health: string;
  database: string;
}

export async function addressesOf(server: RunningServer): Promise<ServerAddresses> {
  return {
    url: server.url,
    api: `${server.url}/api/v1`,
    docs: `${server.url}/docs`,
    dashboard: (await servesDashboard(server.url)) ? `${server.url}/` : undefined,
    health: `${server.url}/healthz`,
    database: server.config.databaseUrl,
  };
}

export const DASHBOARD_MISSING = "not built (npm run build:dashboard)";

/** `place-order@1, greet@2` */
export function workflowNames(server: RunningServer): string[] {
  // Internal workflows (dirigent.*) are the engine's own business.
  return server.engine.registry
    .list()
    .filter((w) => !w.name.startsWith("dirigent."))
    .map((w) => `${w.name}@${w.latest}`);
}
