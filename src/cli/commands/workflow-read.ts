// Verbs that read runs: list, describe, show (--follow), and result (--wait).
import { Command } from "@commander-js/extra-typings";
import { DirigentError } from "../../core/errors.js";
import type { RunRecord } from "../../core/types.js";
import { followRun } from "../follow.js";
import { historyTable, runDetailText, runListTable, runSummaryText } from "../format.js";
import { waitForFinal } from "../session.js";
import { noteFollowOutcome } from "./progress.js";
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
      const page = await ctx.withSession("read", "workflow list", (s) =>
        s.client.list({
          status: opts.status,
          workflow: opts.workflow,
          limit: opts.limit,
          cursor: opts.cursor,
        }),
      );
      ctx.out.result(
        page,
        () => {
          if (page.runs.length === 0) return "no runs";
          const more = page.nextCursor ? `\nmore runs: --cursor ${page.nextCursor}` : "";
          return runListTable(page.runs) + more;
        },
        page.runs,
      );
      if (ctx.out.format === "jsonl" && page.nextCursor)
        ctx.out.note(`more runs: --cursor ${page.nextCursor}`);
    });
}

export function describeCommand(makeContext: ContextFactory) {
  return new Command("describe")
    .description("show a run's status, input, output and times")
    .argument("<runId>", "run id")
    .action(async (runId, _opts, cmd) => {
      const ctx = makeContext(cmd);
      const run = await ctx.withSession("read", "workflow describe", (s) => s.client.describe(runId));
      ctx.out.result(run, () => runDetailText(run));
    });
}

export function showCommand(makeContext: ContextFactory) {
  return new Command("show")
    .description("show a run's history: steps, attempts, retries, signals, compensations")
    .argument("<runId>", "run id")
    .option("--follow", "keep showing new events until the run finishes (Ctrl-C stops following)")
    .option("--wait-ms <ms>", "with --follow: stop following after this long", intOption(0))
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      if (!opts.follow) {
        const history = await ctx.withSession("read", "workflow show", (s) => s.client.history(runId));
        ctx.out.result(
          { run: runSummary(history.run), events: history.events },
          () => historyTable(history.events),
          history.events.map((e) => ({ runId, ...e })),
        );
        return;
      }
      await ctx.withSession(
        "read",
        "workflow show --follow",
        async (session) => {
          const followed = await followRun(ctx.out, session, runId, { waitMs: opts.waitMs });
          const { run, events } = followed;
          if (ctx.out.format === "json") ctx.out.result({ run: runSummary(run), events }, () => "");
          else if (ctx.out.format === "table") ctx.out.write(`${runSummaryText(run)}\n`);
          noteFollowOutcome(ctx, session, followed);
        },
        { interruptible: true },
      );
    });
}

export function resultCommand(makeContext: ContextFactory) {
  return new Command("result")
    .description("print a finished run's output; a run that failed, was cancelled or terminated is an error")
    .argument("<runId>", "run id")
    .option("--wait", "wait until the run finishes (local mode: executes it, needs --module)")
    .option(
      "--wait-ms <ms>",
      "with --wait: give up after this long (RESULT_TIMEOUT)",
      intOption(0),
      DEFAULT_WAIT_MS,
    )
    .action(async (runId, opts, cmd) => {
      const ctx = makeContext(cmd);
      const run = opts.wait
        ? await ctx.withSession(
            "execute",
            "workflow result --wait",
            (s) => waitForFinal(s, runId, opts.waitMs),
            {
              interruptible: true,
            },
          )
        : await ctx.withSession("read", "workflow result", (s) => s.client.describe(runId));
      const output = finalOutput(run, ctx.mode === "remote");
      ctx.out.result({ runId: run.runId, status: run.status, output }, () =>
        JSON.stringify(output ?? null, null, 2),
      );
    });
}

/** The output of a completed run; any other status is an error with a stable code. */
function finalOutput(run: RunRecord, remote: boolean): unknown {
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
        `run "${run.runId}" is ${run.status}; wait for it with --wait${remote ? "" : " --module <file>"}`,
        details,
      );
  }
}
