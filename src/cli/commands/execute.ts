// `workflow execute`: start a run and follow it to the end; the exit code says how it ended.
import { Command } from "@commander-js/extra-typings";
import { c } from "../colors.js";
import { followRun } from "../follow.js";
import { runSummaryText } from "../format.js";
import { noteFollowOutcome } from "./progress.js";
import { type ContextFactory, intOption, readInput, runSummary } from "./shared.js";

export function executeCommand(makeContext: ContextFactory) {
  return new Command("execute")
    .description(
      "start a run and follow it step by step until it ends: exit 0 if it completed, 1 if it failed, " +
        "was cancelled or terminated (local mode: executes it here, needs --module)",
    )
    .argument("<workflow>", "workflow name")
    .option("--input <json>", "workflow input as JSON")
    .option("--input-file <file>", "read the workflow input (JSON) from a file; - reads stdin")
    .option("--run-id <id>", "choose the run id (an existing id is followed, not started again)")
    .option("--fail-on-conflict", "fail with RUN_ALREADY_EXISTS if a run with --run-id exists")
    .option("--wait-ms <ms>", "stop following after this long (default: until the run ends)", intOption(0))
    .action(async (workflow, opts, cmd) => {
      const ctx = makeContext(cmd);
      const input = readInput(opts);
      await ctx.withSession(
        "execute",
        "workflow execute",
        async (session) => {
          const started = await session.client.start(workflow, input, {
            runId: opts.runId,
            onConflict: opts.failOnConflict ? "fail" : "return",
          });
          if (ctx.out.format === "table") {
            const how = started.created ? "started" : "following the existing";
            ctx.out.write(`${how} run ${c.bold(started.runId)} of ${workflow}\n`);
          }
          const followed = await followRun(ctx.out, session, started.runId, { waitMs: opts.waitMs });
          const { run, events } = followed;
          if (ctx.out.format === "json") {
            ctx.out.result({ ...runSummary(run), created: started.created, events }, () => "");
          } else if (ctx.out.format === "table") {
            ctx.out.write(`\n${runSummaryText(run)}\n`);
          }
          noteFollowOutcome(ctx, session, followed);
        },
        { interruptible: true },
      );
    });
}
