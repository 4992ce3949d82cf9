// Verbs that read runs: list, describe, show, and result (which with --wait executes, needing --module).
import { setTimeout as delay } from "node:timers/promises";
import { Command } from "@commander-js/extra-typings";
import { DirigentError } from "../../core/errors.js";
import { isTerminalStatus, type RunRecord } from "../../core/types.js";
import { historyTable, runDetailText, runListTable } from "../format.js";
import type { LocalSession } from "../local.js";
import { type ContextFactory, DEFAULT_WAIT_MS, intOption, runSummary, statusListOption } from "./shared.js";

export function listCommand(makeContext: ContextFactory) {
  return new Command("list")
    .description("list runs, newest first")
    .option("--status <statuses>", "only these statuses (comma-separated)", statusListOption)
    .option("--workflow <name>", "only runs of this workflow")
    .option("--limit <n>", "runs per page (1-1000)", intOption(1, 1000), 50)
    .option("--cursor <cursor>", "continue after the page that returned this cursor")
    .action(async (opts, cmd) => {
      const ctx = makeContext(cmd);
      const page = await ctx.withReader((s) =>
        s.client.list({
          status: opts.status,
          workflow: opts.workflow,
          limit: opts.limit,
          cursor: opts.cursor,
        }),
      );
      ctx.out.result(page, () => {
        if (page.runs.length === 0) return "no runs";
        const more = page.nextCursor ? `\nmore runs: --cursor ${page.nextCursor}` : "";
        return runListTable(page.runs) + more;
      });
    });
}

export function describeCommand(makeContext: ContextFactory) {
  return new Command("describe")
    .description("show a run's status, input, output and times")
    .argument("<runId>", "run id")
    .action(async (runId, _opts, cmd) => {
      const ctx = makeContext(cmd);
      const run = await ctx.withReader((s) => s.client.describe(runId));
      ctx.out.result(run, () => runDetailText(run));
    });
}

export function showCommand(makeContext: ContextFactory) {
  return new Command("show")
    .description("show a run's history: steps, attempts, retries, signals, compensations")
    .argument("<runId>", "run id")
    .action(async (runId, _opts, cmd) => {
      const ctx = makeContext(cmd);
      const history = await ctx.withReader((s) => s.client.history(runId));
      ctx.out.result({ run: runSummary(history.run), events: history.events }, () =>
        historyTable(history.events),
      );
    });
}

export function resultCommand(makeContext: ContextFactory) {
  return new Command("result")
    .description("print a finished run's output; a run that failed, was cancelled or terminated is an error")
    .argument("<runId>", "run id")
    .option("--wait", "execute the run until it finishes (needs --module)")
    .option(
      "--wait-ms <ms>",
      "with --wait: give up after this long (RESULT_TIMEOUT)",
      intOption(0),
      DEFAULT_WAIT_MS,
    )
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      const run = opts.wait
        ? await ctx.withExecutor("result --wait", (s) => waitForFinish(s, runId, opts.waitMs))
        : await ctx.withReader((s) => s.client.describe(runId));
      const output = finalOutput(run);
      ctx.out.result({ runId: run.runId, status: run.status, output }, () =>
        JSON.stringify(output ?? null, null, 2),
      );
    });
}

/**
 * Execute until the run is final, polling the database rather than holding engine waiters, so Ctrl-C or
 * the deadline end the wait at once and leave nothing pending.
 */
async function waitForFinish(session: LocalSession, runId: string, waitMs: number): Promise<RunRecord> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const run = await session.client.describe(runId);
    if (isTerminalStatus(run.status)) return run;
    if (session.interrupted.aborted || Date.now() >= deadline) {
      const why = session.interrupted.aborted ? "was interrupted" : `did not finish within ${waitMs} ms`;
      throw new DirigentError("RESULT_TIMEOUT", `run "${runId}" ${why} (it is ${run.status})`, {
        runId,
        status: run.status,
      });
    }
    await delay(Math.max(1, Math.min(20, deadline - Date.now())), undefined, {
      signal: session.interrupted,
    }).catch(() => {});
  }
}

/** The output of a completed run; any other status is an error with a stable code. */
function finalOutput(run: RunRecord): unknown {
  const details = { runId: run.runId, status: run.status, error: runSummary(run).error };
  const reason = run.error ? `: ${run.error.message}` : "";
  switch (run.status) {
    case "completed":
      return run.output;
    case "failed":
      throw new DirigentError("RUN_FAILED", `run "${run.runId}" failed${reason}`, details);
    case "cancelled":
      throw new DirigentError("RUN_CANCELLED", `run "${run.runId}" was cancelled`, details);
    case "terminated":
      throw new DirigentError("RUN_TERMINATED", `run "${run.runId}" was terminated${reason}`, details);
    default:
      throw new DirigentError(
        "RUN_NOT_FINISHED",
        `run "${run.runId}" is ${run.status}; wait for it with --wait --module <file>`,
        details,
      );
  }
}
