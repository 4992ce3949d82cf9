// `dirigent dev` (what `npm start` runs): the server on a local database with the order demo, zero config.
import { readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { Command } from "@commander-js/extra-typings";
import type { ServerConfig } from "../../server/config.js";
import type { RunningServer } from "../../server/start.js";
import { c } from "../colors.js";
import type { CliContext } from "../context.js";
import { deployOrderYaml, type OrderDemo, startOrderDemo } from "../dev-demo.js";
import { keyValues } from "../format.js";
import { loadWorkflowModule } from "../module-loader.js";
import type { Output, OutputFormat } from "../output.js";
import { addressesOf, DASHBOARD_MISSING, listen, SERVE_HELP, serverConfig, workflowNames } from "../serve.js";

export const DEV_DATABASE_URL = "sqlite:./.dirigent/dev.db";

export const SAMPLE_ORDER = {
  orderId: "order-1",
  amount: 42,
  address: "1 Main St, Springfield",
  email: "ann@example.com",
};

export function devCommand(makeContext: (command: CommandUnknownOpts) => CliContext) {
  return new Command("dev")
    .description(
      'zero-config development server: the server on ./.dirigent/dev.db with the "place an order" demo ' +
        "(its three services and workflows) and the workflows of --module",
    )
    .option("--port <port>", `${SERVE_HELP.port}; a busy default port falls back to a free one`)
    .option("--host <host>", SERVE_HELP.host)
    .option("--config <file>", SERVE_HELP.config)
    .option(
      "--log-level <level>",
      `${SERVE_HELP.logLevel}; default info: runs created and finished, retries, failures, errors ` +
        "(debug adds every step attempt and HTTP request)",
    )
    .option("--log-format <format>", `${SERVE_HELP.logFormat}; default pretty (json with -o jsonl)`)
    .option("--shutdown-grace-ms <ms>", SERVE_HELP.shutdownGraceMs)
    .option("--reset", "delete the dev database first (all runs are lost)")
    .action(async (opts, cmd) => {
      const ctx = makeContext(cmd);
      const config = await serverConfig(ctx, opts, devDefaults(ctx.out.format));
      if (opts.reset) await resetDatabase(ctx.out, config.databaseUrl);
      const workflows = ctx.globals.module ? await loadWorkflowModule(ctx.globals.module) : [];

      const demo = await startOrderDemo(config.host === "0.0.0.0" ? "127.0.0.1" : config.host);
      let server: RunningServer;
      try {
        const portChosen = opts.port !== undefined || Boolean(ctx.env.DIRIGENT_PORT?.trim());
        server = await listen(ctx, config, [...(demo?.workflows ?? []), ...workflows], {
          handleSignals: false,
          // The dashboard polls every few seconds: a line per request would bury the runs' lines.
          requestLogs: config.logLevel === "debug" || config.logLevel === "trace",
          fallbackToFreePort: !portChosen,
          onFallback: () => ctx.out.note(`port ${config.port} is in use: listening on a free port instead`),
        });
      } catch (error) {
        await demo?.close();
        throw error;
      }
      let yaml: { name: string; version: number } | undefined;
      try {
        yaml = await deployOrderYaml(server.engine);
      } catch (error) {
        ctx.out.warn(`examples/order/place-order.yaml was not deployed: ${(error as Error).message}`);
      }
      await printBanner(ctx, server, demo, yaml);
      await stopOnSignal(ctx.out, server, demo);
    });
}

/**
 * What `dev` does unless told otherwise (flags, DIRIGENT_* variables and the config file all win): the
 * database in ./.dirigent, and a readable line per run event at info. `-o json` prints one JSON
 * document, so no log lines; `-o jsonl` gets them as JSON lines.
 */
function devDefaults(format: OutputFormat): Partial<Omit<ServerConfig, "alerts">> {
  return {
    databaseUrl: DEV_DATABASE_URL,
    logLevel: format === "json" ? "silent" : "info",
    logFormat: format === "jsonl" ? "json" : "pretty",
  };
}

async function resetDatabase(out: Output, databaseUrl: string): Promise<void> {
  const { parseDatabaseUrl } = await import("../../server/config.js");
  const target = parseDatabaseUrl(databaseUrl);
  if (target.kind !== "sqlite" || target.path === ":memory:") {
    out.warn(`--reset only deletes SQLite files; ${databaseUrl} was left as it is`);
    return;
  }
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${target.path}${suffix}`, { force: true });
  out.note(`deleted ${target.path}`);
}

/** How to run this CLI from where `dev` was started: `npx dirigent` in this repository, else its path. */
function cliInvocation(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8"));
    if (pkg?.name === "dirigent" && pkg?.bin?.dirigent) return "npx dirigent";
  } catch {
    // No package.json here: name the script.
  }
  const bin = fileURLToPath(new URL("../../../bin/dirigent.js", import.meta.url));
  const rel = relative(process.cwd(), bin);
  const path = rel.length < bin.length && !rel.startsWith("..") ? rel : bin;
  return `node ${/^[\w./-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`}`;
}

async function printBanner(
  ctx: CliContext,
  server: RunningServer,
  demo: OrderDemo | undefined,
  yaml: { name: string; version: number } | undefined,
): Promise<void> {
  const where = await addressesOf(server);
  const names = workflowNames(server);
  const placeOrder = demo
    ? `${cliInvocation()} workflow execute place-order --address ${server.url} --input '${JSON.stringify(SAMPLE_ORDER)}'`
    : undefined;
  const watch = where.dashboard
    ? `the command shows each step as it completes; the dashboard shows this run and all others: ${where.dashboard}`
    : `the command shows each step as it completes; list all runs with: ${cliInvocation()} workflow list --address ${server.url}`;
  const doc = { ...where, workflows: names, services: demo?.services, dsl: yaml, placeOrder, watch };
  ctx.out.result(doc, () => {
    const lines = [
      `${c.bold("Dirigent dev server")} ${c.dim("(Ctrl-C stops it)")}`,
      "",
      keyValues([
        ["  server", c.cyan(where.url)],
        ["  dashboard", where.dashboard ? c.cyan(where.dashboard) : c.dim(DASHBOARD_MISSING)],
        ["  API docs", where.docs],
        ["  database", where.database],
        ["  workflows", names.length > 0 ? names.join(", ") : c.dim("none")],
        [
          "  services",
          demo
            ? `payments ${demo.services.payments}, shipping ${demo.services.shipping}, notifications ${demo.services.notifications}`
            : undefined,
        ],
      ]),
    ];
    if (placeOrder) {
      lines.push(
        "",
        c.bold("Place an order") + c.dim(" (in another terminal):"),
        "",
        `  ${placeOrder}`,
        "",
        c.dim(`Watch it: ${watch}`),
        c.dim(
          `Make shipping fail (the charge is then refunded): curl -X POST ${demo!.services.shipping}/_control ` +
            `-H 'content-type: application/json' -d '{"failAlways":true}'  (undo with {"reset":true})`,
        ),
      );
    } else {
      lines.push(
        "",
        c.dim("The order demo (examples/order) is not here: only the workflows of --module run."),
      );
    }
    lines.push("");
    return lines.join("\n");
  });
}

/**
 * On SIGINT or SIGTERM: drain the server (runs in flight get the grace period), close the demo services,
 * exit 0. A second signal, or a shutdown past the grace period, exits 1.
 */
async function stopOnSignal(out: Output, server: RunningServer, demo: OrderDemo | undefined): Promise<void> {
  const { default: closeWithGrace } = await import("close-with-grace");
  closeWithGrace(
    { delay: server.config.shutdownGraceMs + 5_000, logger: { error: (m: unknown) => out.warn(String(m)) } },
    async ({ signal, err }) => {
      if (err) out.error(err);
      else out.note(`${signal ?? "exit"}: shutting down`);
      try {
        await server.close();
      } finally {
        await demo?.close();
      }
      out.note("stopped");
    },
  );
}
