// `dirigent task-queue <verb>`: the queues remote workers poll (docs/workers.md).
import { Command } from "@commander-js/extra-typings";
import { UsageError } from "../errors.js";
import { queueDetailText, queueListTable } from "../format-ops.js";
import { type ContextFactory, limitOption, limitValue } from "./shared.js";

export function taskQueueCommand(makeContext: ContextFactory) {
  const list = new Command("list")
    .description("list task queues: tasks queued and leased, workers, limits")
    .action(async (_opts, cmd) => {
      const ctx = makeContext(cmd);
      const queues = await ctx.withSession("read", "task-queue list", (s) => s.client.listQueues());
      ctx.out.result(
        { queues },
        () => (queues.length === 0 ? "no task queues" : queueListTable(queues)),
        queues,
      );
    });

  const describe = new Command("describe")
    .description("show a task queue: backlog, workers seen, limits")
    .argument("<queue>", "queue name")
    .action(async (queue, _opts, cmd) => {
      const ctx = makeContext(cmd);
      const info = await ctx.withSession("read", "task-queue describe", (s) => s.client.describeQueue(queue));
      ctx.out.result(info, () => queueDetailText(info));
    });

  const limits = new Command("limits")
    .description(
      "set a queue's limits: tasks leased at once, tasks leased per second (a limit not given is kept)",
    )
    .argument("<queue>", "queue name")
    .option("--concurrency <n>", 'most tasks leased at once, or "none"', limitOption(true))
    .option("--rate <perSecond>", 'most tasks leased per second, or "none"', limitOption(false))
    .action(async (queue, opts, cmd) => {
      const ctx = makeContext(cmd);
      if (opts.concurrency === undefined && opts.rate === undefined) {
        throw new UsageError("give --concurrency and/or --rate (a number, or none to remove the limit)");
      }
      const info = await ctx.withSession("read", "task-queue limits", async (s) => {
        // The API replaces both limits: keep the one not given on the command line.
        const current =
          opts.concurrency === undefined || opts.rate === undefined
            ? await s.client.describeQueue(queue).catch((error) => {
                if (error?.code === "QUEUE_NOT_FOUND") return undefined;
                throw error;
              })
            : undefined;
        await s.client.setQueueLimits(queue, {
          concurrency:
            opts.concurrency === undefined ? (current?.concurrency ?? null) : limitValue(opts.concurrency),
          ratePerSecond: opts.rate === undefined ? (current?.ratePerSecond ?? null) : limitValue(opts.rate),
        });
        return s.client.describeQueue(queue);
      });
      ctx.out.result(info, () => queueDetailText(info));
    });

  return new Command("task-queue")
    .description("inspect task queues and set their limits")
    .addCommand(list)
    .addCommand(describe)
    .addCommand(limits);
}
