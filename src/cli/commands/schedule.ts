// `dirigent schedule <verb>`: durable cron schedules that start runs.
import { Command, Option } from "@commander-js/extra-typings";
import { OVERLAP_POLICIES, type OverlapPolicy } from "../../core/types.js";
import { scheduleDetailText, scheduleListTable } from "../format-ops.js";
import { type ContextFactory, DEFAULT_WAIT_MS, intOption, readInput } from "./shared.js";
import { settleAndReport } from "./workflow-write.js";

export function scheduleCommand(makeContext: ContextFactory) {
  const create = new Command("create")
    .description("create a schedule that starts runs of a workflow on a cron rhythm")
    .argument("<scheduleId>", "schedule id (letters, digits, . _ : -)")
    .requiredOption("--cron <expr>", 'cron expression, 5 or 6 fields (e.g. "*/5 * * * *")')
    .requiredOption("--workflow <name>", "workflow each fire starts")
    .option("--input <json>", "input of every run, as JSON")
    .option("--input-file <file>", "read the input (JSON) from a file; - reads stdin")
    .option("--timezone <tz>", "IANA time zone the cron expression is read in (default UTC)")
    .addOption(
      new Option(
        "--overlap <policy>",
        "when a fire comes while the previous run is going (default skip)",
      ).choices(OVERLAP_POLICIES),
    )
    .option("--catchup-window-ms <ms>", "make up fires missed while down if at most this old", intOption(0))
    .option("--paused", "create it paused")
    .action(async (scheduleId, opts, cmd) => {
      const ctx = makeContext(cmd);
      const input = readInput(opts);
      const schedule = await ctx.withSession("register", "schedule create", (s) =>
        s.client.createSchedule({
          scheduleId,
          cron: opts.cron,
          workflow: opts.workflow,
          input,
          timezone: opts.timezone,
          overlap: opts.overlap as OverlapPolicy | undefined,
          catchupWindowMs: opts.catchupWindowMs,
          paused: opts.paused,
        }),
      );
      ctx.out.result(schedule, () => scheduleDetailText(schedule));
    });

  const list = new Command("list").description("list schedules").action(async (_opts, cmd) => {
    const ctx = makeContext(cmd);
    const schedules = await ctx.withSession("read", "schedule list", (s) => s.client.listSchedules());
    ctx.out.result(
      { schedules },
      () => (schedules.length === 0 ? "no schedules" : scheduleListTable(schedules)),
      schedules,
    );
  });

  const describe = new Command("describe")
    .description("show a schedule")
    .argument("<scheduleId>", "schedule id")
    .action(async (scheduleId, _opts, cmd) => {
      const ctx = makeContext(cmd);
      const schedule = await ctx.withSession("read", "schedule describe", (s) =>
        s.client.getSchedule(scheduleId),
      );
      ctx.out.result(schedule, () => scheduleDetailText(schedule));
    });

  const change = (name: "pause" | "resume", description: string) =>
    new Command(name)
      .description(description)
      .argument("<scheduleId>", "schedule id")
      .action(async (scheduleId, _opts, cmd) => {
        const ctx = makeContext(cmd);
        const schedule = await ctx.withSession("read", `schedule ${name}`, async (s) => {
          if (name === "pause") await s.client.pauseSchedule(scheduleId);
          else await s.client.resumeSchedule(scheduleId);
          return s.client.getSchedule(scheduleId);
        });
        ctx.out.result(schedule, () => scheduleDetailText(schedule));
      });

  const remove = new Command("delete")
    .description("delete a schedule (runs it started are kept)")
    .argument("<scheduleId>", "schedule id")
    .action(async (scheduleId, _opts, cmd) => {
      const ctx = makeContext(cmd);
      await ctx.withSession("read", "schedule delete", (s) => s.client.deleteSchedule(scheduleId));
      ctx.out.result({ scheduleId, deleted: true }, () => `deleted schedule ${scheduleId}`);
    });

  const trigger = new Command("trigger")
    .description(
      "start a run now, outside the schedule's rhythm (local mode: and execute it, needs --module)",
    )
    .argument("<scheduleId>", "schedule id")
    .option(
      "--wait-ms <ms>",
      "local mode: how long to keep executing the run before stopping",
      intOption(0),
      DEFAULT_WAIT_MS,
    )
    .action(async (scheduleId, opts, cmd) => {
      const ctx = makeContext(cmd);
      await ctx.withSession("execute", "schedule trigger", async (session) => {
        const { runId } = await session.client.triggerSchedule(scheduleId);
        await settleAndReport(ctx, session, runId, opts.waitMs, (s) => ({ scheduleId, ...s }), [
          ["schedule", scheduleId],
        ]);
      });
    });

  return new Command("schedule")
    .description("create, inspect, pause, resume, trigger and delete cron schedules")
    .addCommand(create)
    .addCommand(list)
    .addCommand(describe)
    .addCommand(change("pause", "pause a schedule: no fires until resumed"))
    .addCommand(change("resume", "resume a paused schedule from the next due time"))
    .addCommand(remove)
    .addCommand(trigger);
}
