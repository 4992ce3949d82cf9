// Verbs that change runs. In local mode start, signal, cancel and retry execute the runs in this
// process (--module) until nothing more can happen; with --address the server executes them and the
// verb returns once the server accepted the change. terminate needs no workflow code in either mode.
import { readFileSync } from "node:fs";
import { Command } from "@commander-js/extra-typings";
import { DirigentError } from "../../core/errors.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { runSummaryText } from "../format.js";
import type { Session } from "../session.js";
import { BULK_HELP, bulkAction, hasFilter } from "./bulk.js";
import { noteProgress } from "./progress.js";
import {
  type ContextFactory,
  DEFAULT_WAIT_MS,
  intOption,
  parseJsonOption,
  readInput,
  runSummary,
  statusListOption,
} from "./shared.js";

const WAIT_MS_HELP =
  "local mode: how long to keep executing before stopping (runs left unfinished continue later)";

/**
 * Let the run make progress (local mode: execute until idle or --wait-ms, then stop the engine), then
 * print it as it stands. Reading the run after the engine stopped reports what the database holds,
 * not a state the engine was about to leave.
 */
export async function settleAndReport(
  ctx: CliContext,
  session: Session,
  runId: string,
  waitMs: number,
  doc: (summary: ReturnType<typeof runSummary>) => object,
  extra: [string, string | undefined][] = [],
): Promise<void> {
  const outcome = await session.settle(waitMs);
  const run = await session.client.describe(runId);
  if (outcome !== undefined) noteProgress(ctx.out, run, outcome, waitMs);
  const requested: [string, string | undefined][] =
    run.cancelRequested && run.status !== "cancelled" ? [["cancel", "requested"]] : [];
  ctx.out.result(doc(runSummary(run)), () => runSummaryText(run, [...extra, ...requested]));
}

export function startCommand(makeContext: ContextFactory) {
  return new Command("start")
    .description(
      "start a run of a workflow (local mode: and execute it until it finishes or waits, needs --module)",
    )
    .argument("<workflow>", "workflow name")
    .option("--input <json>", "workflow input as JSON")
    .option("--input-file <file>", "read the workflow input (JSON) from a file; - reads stdin")
    .option("--run-id <id>", "choose the run id (starting an existing id returns that run)")
    .option("--fail-on-conflict", "fail with RUN_ALREADY_EXISTS if a run with --run-id exists")
    .option("--wait-ms <ms>", WAIT_MS_HELP, intOption(0), DEFAULT_WAIT_MS)
    .action(async (workflow, opts, cmd) => {
      const ctx = makeContext(cmd);
      const input = readInput(opts);
      await ctx.withSession("execute", "workflow start", async (session) => {
        const started = await session.client.start(workflow, input, {
          runId: opts.runId,
          onConflict: opts.failOnConflict ? "fail" : "return",
        });
        const existed = started.created ? undefined : "no (a run with this id already existed)";
        await settleAndReport(
          ctx,
          session,
          started.runId,
          opts.waitMs,
          (s) => ({ ...s, created: started.created }),
          [["created", existed]],
        );
      });
    });
}

export function signalCommand(makeContext: ContextFactory) {
  return new Command("signal")
    .description("send a signal to a run (local mode: and execute it until it finishes or waits)")
    .argument("<runId>", "run id")
    .argument("<name>", "signal name")
    .option("--payload <json>", "signal payload as JSON")
    .option("--wait-ms <ms>", WAIT_MS_HELP, intOption(0), DEFAULT_WAIT_MS)
    .action(async (runId, name, opts, cmd) => {
      const ctx = makeContext(cmd);
      const payload = parseJsonOption(opts.payload, "--payload");
      await ctx.withSession("execute", "workflow signal", async (session) => {
        const { signalId } = await session.client.signal(runId, name, payload);
        await settleAndReport(ctx, session, runId, opts.waitMs, (s) => ({ ...s, signal: name, signalId }), [
          ["signal", `${name} (#${signalId})`],
        ]);
      });
    });
}

export function cancelCommand(makeContext: ContextFactory) {
  return new Command("cancel")
    .description(
      "cancel a run, or every run a filter selects: each stops at its next durable point and compensates",
    )
    .argument("[runId]", "run id (or select runs with --filter-status / --filter-workflow)")
    .option("--wait-ms <ms>", WAIT_MS_HELP, intOption(0), DEFAULT_WAIT_MS)
    .option("--filter-status <statuses>", BULK_HELP.status, statusListOption)
    .option("--filter-workflow <name>", BULK_HELP.workflow)
    .option("--yes", BULK_HELP.yes)
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      if (runId === undefined || hasFilter(opts)) {
        if (runId !== undefined) throw new UsageError("give a run id or --filter-* options, not both");
        await bulkAction(ctx, "cancel", opts);
        return;
      }
      await ctx.withSession("execute", "workflow cancel", async (session) => {
        await session.client.cancel(runId);
        await settleAndReport(ctx, session, runId, opts.waitMs, (s) => s);
      });
    });
}

export function terminateCommand(makeContext: ContextFactory) {
  return new Command("terminate")
    .description("end a run, or every run a filter selects, at once, without compensation")
    .argument("[runId]", "run id (or select runs with --filter-status / --filter-workflow)")
    .option("--reason <text>", "why (recorded as the run's error)")
    .option("--filter-status <statuses>", BULK_HELP.status, statusListOption)
    .option("--filter-workflow <name>", BULK_HELP.workflow)
    .option("--yes", BULK_HELP.yes)
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      if (runId === undefined || hasFilter(opts)) {
        if (runId !== undefined) throw new UsageError("give a run id or --filter-* options, not both");
        await bulkAction(ctx, "terminate", opts);
        return;
      }
      await ctx.withSession("read", "workflow terminate", async (session) => {
        await session.client.terminate(runId, opts.reason);
        const run = await session.client.describe(runId);
        ctx.out.result(runSummary(run), () => runSummaryText(run));
      });
    });
}

export function retryCommand(makeContext: ContextFactory) {
  return new Command("retry")
    .description(
      "put a failed run back to work from its failed step (local mode: and execute it, needs --module)",
    )
    .argument("<runId>", "run id")
    .option("--wait-ms <ms>", WAIT_MS_HELP, intOption(0), DEFAULT_WAIT_MS)
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      await ctx.withSession("execute", "workflow retry", async (session) => {
        await session.client.retry(runId);
        await settleAndReport(ctx, session, runId, opts.waitMs, (s) => s);
      });
    });
}

export function deployCommand(makeContext: ContextFactory) {
  return new Command("deploy")
    .description("deploy a YAML/JSON workflow definition as its next version (runs going keep theirs)")
    .argument("<file>", "the definition file (.yaml, .yml or .json)")
    .action(async (file, _opts, cmd) => {
      const ctx = makeContext(cmd);
      let source: string;
      try {
        source = readFileSync(file, "utf8");
      } catch (err) {
        throw new DirigentError("DEFINITION_NOT_FOUND", `cannot read ${file}: ${(err as Error).message}`, {
          file,
        });
      }
      const format = /\.json$/i.test(file) ? ("json" as const) : ("yaml" as const);
      await ctx.withSession("read", "workflow deploy", async (session) => {
        const r = await session.client.deployDefinition(source, { file, format });
        const doc = { name: r.name, version: r.version, created: r.created, steps: r.graph.nodes.length };
        ctx.out.result(doc, () =>
          r.created
            ? `deployed ${r.name} version ${r.version}`
            : `${r.name} version ${r.version} already has exactly this source: nothing deployed`,
        );
      });
    });
}
