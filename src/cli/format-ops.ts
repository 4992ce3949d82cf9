// Text renderings of schedules and task queues for people; the JSON output does not go through here.
import type { QueueInfo, ScheduleRecord } from "../core/types.js";
import { c } from "./colors.js";
import { formatDateTime, formatValue, keyValues, table } from "./format.js";

/** `1.2 s`, `3 min`, `2 h` */
export function formatAge(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const state = (s: ScheduleRecord) => (s.paused ? c.yellow("paused") : c.green("active"));

export function scheduleListTable(schedules: ScheduleRecord[]): string {
  const t = table(["SCHEDULE", "WORKFLOW", "CRON", "STATE", "NEXT FIRE", "LAST FIRE", "LAST RUN"]);
  for (const s of schedules) {
    t.push([
      s.scheduleId,
      s.workflow,
      s.timezone === "UTC" ? s.cron : `${s.cron} (${s.timezone})`,
      state(s),
      s.paused ? "" : formatDateTime(s.nextFireAt),
      formatDateTime(s.lastFireAt),
      s.lastRunId ?? "",
    ]);
  }
  return t.toString();
}

export function scheduleDetailText(s: ScheduleRecord): string {
  return keyValues([
    ["schedule", s.scheduleId],
    ["workflow", s.workflow],
    ["cron", s.cron],
    ["timezone", s.timezone],
    ["state", state(s)],
    ["overlap", s.overlap],
    ["catch-up window", formatAge(s.catchupWindowMs)],
    ["input", formatValue(s.input, 2_000)],
    ["next fire", s.paused ? undefined : formatDateTime(s.nextFireAt)],
    ["last fire", formatDateTime(s.lastFireAt)],
    ["last run", s.lastRunId],
    ["buffered fire", formatDateTime(s.bufferedFireAt)],
    ["created", formatDateTime(s.createdAt)],
    ["updated", formatDateTime(s.updatedAt)],
  ]);
}

const limit = (value: number | undefined, unit = "") => (value === undefined ? "-" : `${value}${unit}`);

export function queueListTable(queues: QueueInfo[]): string {
  const t = table(["QUEUE", "QUEUED", "LEASED", "OLDEST", "WORKERS", "CONCURRENCY", "RATE"]);
  for (const q of queues) {
    t.push([
      q.queue,
      q.queued,
      q.leased,
      q.queued > 0 ? formatAge(q.oldestQueuedAgeMs) : "",
      q.workers.length,
      limit(q.concurrency),
      limit(q.ratePerSecond, "/s"),
    ]);
  }
  return t.toString();
}

export function queueDetailText(q: QueueInfo): string {
  const head = keyValues([
    ["queue", q.queue],
    ["queued", String(q.queued)],
    ["leased", String(q.leased)],
    ["oldest queued", q.queued > 0 ? formatAge(q.oldestQueuedAgeMs) : "-"],
    ["concurrency", q.concurrency === undefined ? "unlimited" : String(q.concurrency)],
    ["rate", q.ratePerSecond === undefined ? "unlimited" : `${q.ratePerSecond}/s`],
  ]);
  if (q.workers.length === 0) return `${head}\n${c.dim("no workers seen")}`;
  const t = table(["WORKER", "LAST SEEN"]);
  for (const w of q.workers) t.push([w.workerId, formatDateTime(w.lastSeenAt)]);
  return `${head}\n${t.toString()}`;
}
