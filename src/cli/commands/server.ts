// `dirigent server`: the HTTP API, the worker protocol and the dashboard on one database.

import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { Command } from "@commander-js/extra-typings";
import { c } from "../colors.js";
import type { CliContext } from "../context.js";
import { keyValues } from "../format.js";
import { loadWorkflowModule } from "../module-loader.js";
import { addressesOf, DASHBOARD_MISSING, listen, SERVE_HELP, serverConfig, workflowNames } from "../serve.js";

export function serverCommand(makeContext: (command: CommandUnknownOpts) => CliContext) {
  return new Command("server")
    .description(
      "run the server: the HTTP API, the worker protocol and the dashboard, executing the workflows of " +
        "--module on the database of --db (sqlite:<file> or postgres://…; env DIRIGENT_DATABASE_URL)",
    )
    .option("--port <port>", SERVE_HELP.port)
    .option("--host <host>", SERVE_HELP.host)
    .option("--config <file>", SERVE_HELP.config)
    .option("--log-level <level>", SERVE_HELP.logLevel)
    .option("--log-format <format>", `${SERVE_HELP.logFormat}; default json`)
    .option("--shutdown-grace-ms <ms>", SERVE_HELP.shutdownGraceMs)
    .option("--node-id <id>", SERVE_HELP.nodeId)
    .option("--lease-ms <ms>", SERVE_HELP.leaseMs)
    .option("--poll-interval-ms <ms>", SERVE_HELP.pollIntervalMs)
    .action(async (opts, cmd) => {
      const ctx = makeContext(cmd);
      const config = await serverConfig(ctx, opts);
      const workflows = ctx.globals.module ? await loadWorkflowModule(ctx.globals.module) : [];
      // startServer handles SIGTERM/SIGINT: drain, stop the engine with a grace period, exit 0.
      const server = await listen(ctx, config, workflows, { handleSignals: true });
      const where = await addressesOf(server);
      const names = workflowNames(server);
      ctx.out.result({ ...where, workflows: names }, () =>
        [
          `${c.bold("Dirigent server")} listening on ${c.cyan(where.url)}`,
          keyValues([
            ["  api", where.api],
            ["  docs", where.docs],
            ["  dashboard", where.dashboard ?? c.dim(DASHBOARD_MISSING)],
            ["  database", where.database],
            ["  workflows", names.length > 0 ? names.join(", ") : c.dim("none (give --module <file>)")],
          ]),
          c.dim(
            `Ctrl-C or SIGTERM stops it; runs in flight get ${server.config.shutdownGraceMs} ms to reach a durable point.`,
          ),
        ].join("\n"),
      );
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => ctx.out.note(`${signal}: shutting down`));
      }
      // The command returns; the listening server keeps the process alive until a signal stops it.
    });
}
