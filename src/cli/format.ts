// Text renderings of runs and histories for people; the JSON output does not go through here.
import Table from "cli-table3";
import type { HistoryEvent } from "../core/history.js";
import type { ErrorInfo, RunRecord, RunStatus } from "../core/types.js";
import { c } from "./colors.js";

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `2026-01-31 14:05:09` in local time. */
export function formatDateTime(ms: number | undefined): string {
  if (ms === undefined) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(ms, false)}`;
}

/** `14:05:09.123` in local time. */
export function formatClock(ms: number, withMs = true): string {
  const d = new Date(ms);
  const base = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return withMs ? `${base}.${String(d.getMilliseconds()).padStart(3, "0")}` : base;
}

/** A value as compact JSON, cut to `max` characters. */
export function formatValue(value: unknown, max = 200): string {
  if (value === undefined) return "";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function formatError(error: ErrorInfo | undefined): string {
  if (!error) return "";
  return error.code ? `${error.code}: ${error.message}` : error.message;
}

export function colorStatus(status: RunStatus | string): string {
  switch (status) {
    case "completed":
      return c.green(status);
    case "failed":
    case "terminated":
      return c.red(status);
    case "cancelled":
      return c.yellow(status);
    default:
      return c.cyan(status);
  }
}

export function table(head: string[], colWidths: (number | null)[] = []): Table.Table {
  return new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [], compact: true },
    colWidths,
    wordWrap: true,
  });
}

/** Aligned `key  value` lines, skipping empty values. */
export function keyValues(rows: [string, string | undefined][]): string {
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== "");
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${c.dim(k.padEnd(width))}  ${v}`).join("\n");
}

/** The outcome of a run in a few lines: what start, signal, cancel and terminate print. */
export function runSummaryText(run: RunRecord, extra: [string, string | undefined][] = []): string {
  return keyValues([
    ["run id", run.runId],
    ["workflow", `${run.workflow} (version ${run.version})`],
    ...extra,
    ["status", colorStatus(run.status)],
    ["output", formatValue(run.output, 2_000)],
    ["error", formatError(run.error)],
  ]);
}

/** Every field of a run, for `describe`. */
export function runDetailText(run: RunRecord): string {
  return keyValues([
    ["run id", run.runId],
    ["workflow", run.workflow],
    ["version", run.version],
    ["status", colorStatus(run.status)],
    ["input", formatValue(run.input, 2_000)],
    ["output", formatValue(run.output, 2_000)],
    ["error", formatError(run.error)],
    ["parent", run.parentRunId],
    ["created", formatDateTime(run.createdAt)],
    ["started", formatDateTime(run.startedAt)],
    ["updated", formatDateTime(run.updatedAt)],
    ["finished", formatDateTime(run.completedAt)],
    ["next wake-up", formatDateTime(run.wakeAt)],
    ["deadline", formatDateTime(run.deadlineAt)],
    ["owner", run.owner],
    ["cancel requested", run.cancelRequested ? "yes" : undefined],
  ]);
}

export function runListTable(runs: RunRecord[]): string {
  const t = table(["RUN ID", "WORKFLOW", "STATUS", "CREATED", "FINISHED"]);
  for (const r of runs) {
    t.push([
      r.runId,
      `${r.workflow}@${r.version}`,
      colorStatus(r.status),
      formatDateTime(r.createdAt),
      formatDateTime(r.completedAt),
    ]);
  }
  return t.toString();
}

/**
 * A run's history as a timeline: time, type, seq, name, attempt, error. The NAME column also names
 * what events without a step stand for (the workflow of run:created, the status of run:finished).
 */
export function historyTable(events: HistoryEvent[]): string {
  // Long error messages wrap in a column of at most 60 characters instead of widening the table.
  const longest = Math.max(0, ...events.map((e) => formatError(e.error).length));
  const errorWidth = longest > 58 ? 60 : null;
  const t = table(
    ["TIME", "TYPE", "SEQ", "NAME", "ATTEMPT", "ERROR"],
    [null, null, null, null, null, errorWidth],
  );
  for (const e of events) {
    t.push([formatClock(e.time), e.type, e.seq ?? "", eventName(e), e.attempt ?? "", formatError(e.error)]);
  }
  return t.toString();
}

/**
 * One history event as one line of text, for following a run where the table cannot be redrawn:
 * `14:05:09.123  step:completed       #1 charge (attempt 2)  error`.
 */
export function eventLine(e: HistoryEvent): string {
  // Undo entries live at seq 1e9 + n, an internal numbering: their name says what they undo.
  const seq = e.seq === undefined || e.type.startsWith("undo:") ? "" : `#${e.seq} `;
  const attempt = e.attempt !== undefined && e.attempt > 1 ? ` (attempt ${e.attempt})` : "";
  const error = e.error ? `  ${c.red(formatError(e.error))}` : "";
  return `${c.dim(formatClock(e.time))}  ${e.type.padEnd(19)} ${seq}${eventName(e)}${attempt}${error}`.trimEnd();
}

function eventName(e: HistoryEvent): string {
  if (e.type === "run:created") {
    const d = e.detail as { workflow?: string; version?: string } | undefined;
    return d?.workflow ? `${d.workflow}@${d.version}` : "";
  }
  if (e.type === "run:finished") return colorStatus(e.status ?? "");
  if (e.type === "step:waiting" && e.wakeAt !== undefined)
    return `${e.name} (until ${formatClock(e.wakeAt)})`;
  if (e.type === "step:retrying" && e.wakeAt !== undefined)
    return `${e.name} (next at ${formatClock(e.wakeAt)})`;
  return e.name ?? "";
}
