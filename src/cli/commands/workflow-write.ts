// Verbs that change runs: start, signal and cancel execute locally (--module); terminate needs no code.
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { runSummaryText } from "../format.js";
import type { IdleOutcome } from "../idle.js";
import type { LocalSession } from "../local.js";
import { noteProgress } from "./progress.js";
import {
  type ContextFactory,
  DEFAULT_WAIT_MS,
  intOption,
  parseJsonOption,
  readInput,
  runSummary,
} from "./shared.js";

const WAIT_MS_HELP = "how long to keep executing before stopping (runs left unfinished continue later)";

/**
 * Execute until idle (or --wait-ms), stop the engine, then print the run as it stands. Reading the run
 * after the engine stopped reports what the database holds, not a state the engine was about to leave.
 */
async function executeAndReport(
  ctx: CliContext,
  session: LocalSession,
  runId: string,
  waitMs: number,
  doc: (summary: ReturnType<typeof runSummary>) => object,
  extra: [string, string | undefined][] = [],
): Promise<void> {
  const outcome: IdleOutcome = await session.runUntilIdle(waitMs);
  await session.stop();
  const run = await session.client.describe(runId);
  noteProgress(ctx.out, run, outcome, waitMs);
  ctx.out.result(doc(runSummary(run)), () => runSummaryText(run, extra));
}

export function startCommand(makeContext: ContextFactory) {
  return new Command("start")
    .description("start a run of a workflow and execute it until it finishes or waits (needs --module)")
    .argument("<workflow>", "workflow name")
    .option("--input <json>", "workflow input as JSON")
    .option("--input-file <file>", "read the workflow input (JSON) from a file; - reads stdin")
    .option("--run-id <id>", "choose the run id (starting an existing id returns that run)")
    .option("--fail-on-conflict", "fail with RUN_ALREADY_EXISTS if a run with --run-id exists")
    .option("--wait-ms <ms>", WAIT_MS_HELP, intOption(0), DEFAULT_WAIT_MS)
    .action(async (workflow, opts, cmd) => {
      const ctx = makeContext(cmd);
      const input = readInput(opts);
      await ctx.withExecutor("start", async (session) => {
        const started = await session.client.start(workflow, input, {
          runId: opts.runId,
          onConflict: opts.failOnConflict ? "fail" : "return",
        });
        const existed = started.created ? undefined : "no (a run with this id already existed)";
        await executeAndReport(
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
    .description("send a signal to a run and execute it until it finishes or waits (needs --module)")
    .argument("<runId>", "run id")
    .argument("<name>", "signal name")
    .option("--payload <json>", "signal payload as JSON")
    .option("--wait-ms <ms>", WAIT_MS_HELP, intOption(0), DEFAULT_WAIT_MS)
    .action(async (runId, name, opts, cmd) => {
      const ctx = makeContext(cmd);
      const payload = parseJsonOption(opts.payload, "--payload");
      await ctx.withExecutor("signal", async (session) => {
        const { signalId } = await session.client.signal(runId, name, payload);
        await executeAndReport(ctx, session, runId, opts.waitMs, (s) => ({ ...s, signal: name, signalId }), [
          ["signal", `${name} (#${signalId})`],
        ]);
      });
    });
}

export function cancelCommand(makeContext: ContextFactory) {
  return new Command("cancel")
    .description("cancel a run: it stops at its next durable point and compensates (needs --module)")
    .argument("<runId>", "run id")
    .option("--wait-ms <ms>", WAIT_MS_HELP, intOption(0), DEFAULT_WAIT_MS)
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      await ctx.withExecutor("cancel", async (session) => {
        await session.client.cancel(runId);
        await executeAndReport(ctx, session, runId, opts.waitMs, (s) => s);
      });
    });
}

export function terminateCommand(makeContext: ContextFactory) {
  return new Command("terminate")
    .description("end a run at once, without compensation")
    .argument("<runId>", "run id")
    .option("--reason <text>", "why (recorded as the run's error)")
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      await ctx.withReader(async (session) => {
        await session.client.terminate(runId, opts.reason);
        const run = await session.client.describe(runId);
        ctx.out.result(runSummary(run), () => runSummaryText(run));
      });
    });
}
