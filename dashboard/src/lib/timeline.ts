// A run's timeline, as data (drawn by components/Timeline.tsx). Pure: `now` is passed in.
// One row per journal entry; each attempt of a step is a bar, the backoff between attempts and every
// durable wait (sleep, signal, child, task, retry) a hatched bar, so retries and waits are visible. The
// gap before an attempt that a retry of the failed run started is no backoff: the step had failed, and
// it is drawn (and said) as "retried by user".
import type { AttemptRecord, JournalEntry, RunRecord } from "../api/types.js";

export type SegmentKind = "attempt-ok" | "attempt-failed" | "backoff" | "manual-retry" | "wait" | "instant";

export interface Segment {
  kind: SegmentKind;
  start: number;
  end: number;
  /** The attempt number, for attempt bars. */
  attempt?: number;
  /** Still going (its end is "now"). */
  open?: boolean;
  label: string;
}

export interface TimelineRow {
  seq: number;
  name: string;
  kind: string;
  status: string;
  attempts: number;
  segments: Segment[];
}

export interface TimelineData {
  start: number;
  end: number;
  rows: TimelineRow[];
}

const HIDDEN_KINDS = new Set(["now", "random", "uuid"]);
const WAIT_KINDS = new Set(["sleep", "signal", "child", "task"]);

export function buildTimeline(
  run: RunRecord,
  journal: JournalEntry[],
  attempts: AttemptRecord[],
  now: number,
): TimelineData {
  const rows: TimelineRow[] = [];
  for (const e of [...journal].sort((a, b) => a.seq - b.seq)) {
    if (HIDDEN_KINDS.has(e.kind)) continue;
    rows.push({
      seq: e.seq,
      name: e.name,
      kind: e.kind,
      status: e.status,
      attempts: e.attempt,
      segments: segmentsOf(
        e,
        attempts.filter((a) => a.seq === e.seq),
        now,
      ),
    });
  }
  const start = run.startedAt !== undefined ? Math.min(run.createdAt, run.startedAt) : run.createdAt;
  let end = run.completedAt ?? now;
  for (const row of rows) for (const s of row.segments) end = Math.max(end, s.end);
  if (end <= start) end = start + 1;
  return { start, end, rows };
}

function segmentsOf(e: JournalEntry, failed: AttemptRecord[], now: number): Segment[] {
  if (WAIT_KINDS.has(e.kind) && e.attempt === 0) {
    const open = e.status === "waiting";
    // A wait with a due time (sleep, timeout) is drawn up to it; others up to now.
    const end = open ? Math.max(now, e.wakeAt ?? now) : e.updatedAt;
    const verb =
      e.kind === "sleep"
        ? "sleep"
        : e.kind === "signal"
          ? "wait for signal"
          : e.kind === "child"
            ? "child run"
            : "task";
    return [
      {
        kind: end - e.startedAt <= 0 ? "instant" : "wait",
        start: e.startedAt,
        end: Math.max(end, e.startedAt),
        open,
        label: `${verb} ${e.name}: ${open ? "waiting" : e.status}`,
      },
    ];
  }
  const out: Segment[] = [];
  const sorted = [...failed].sort((a, b) => a.attempt - b.attempt);
  const detail = (e.detail ?? {}) as {
    attemptStartedAt?: number;
    retries?: { at: number; afterAttempt: number }[];
  };
  // The attempts a retry of the run started (each retry round begins after the recorded attempts).
  const retriedAttempts = new Set((detail.retries ?? []).map((r) => r.afterAttempt + 1));
  const gap = (start: number, end: number, attempt: number): Segment => {
    return retriedAttempts.has(attempt)
      ? { kind: "manual-retry", start, end, label: `failed, retried by user before attempt ${attempt}` }
      : { kind: "backoff", start, end, label: `backoff before attempt ${attempt}` };
  };
  let cursor: number | undefined;
  for (const a of sorted) {
    if (cursor !== undefined && a.startedAt > cursor) out.push(gap(cursor, a.startedAt, a.attempt));
    out.push({
      kind: "attempt-failed",
      start: a.startedAt,
      end: a.endedAt,
      attempt: a.attempt,
      label: `attempt ${a.attempt} failed: ${a.error.message}`,
    });
    cursor = a.endedAt;
  }
  const lastFailed = sorted.length ? sorted[sorted.length - 1].attempt : 0;
  if (e.status === "completed") {
    const start = detail.attemptStartedAt ?? (sorted.length ? e.updatedAt : e.startedAt);
    if (cursor !== undefined && start > cursor) out.push(gap(cursor, start, e.attempt));
    out.push({
      kind: "attempt-ok",
      start,
      end: Math.max(e.updatedAt, start),
      attempt: e.attempt,
      label: `attempt ${e.attempt} completed`,
    });
  } else if (e.status === "retrying") {
    const from = cursor ?? e.updatedAt;
    const due = e.wakeAt ?? now;
    const byUser = retriedAttempts.has(lastFailed + 1);
    // Drawn up to the next attempt's due time, so the wait still to come is visible.
    out.push({
      kind: byUser ? "manual-retry" : "backoff",
      start: from,
      end: Math.max(from, due, now),
      open: true,
      label: `${byUser ? "retried by user" : "backoff"}: attempt ${lastFailed + 1} is due ${due > now ? "later" : "now"}`,
    });
  } else if (e.status === "failed" && sorted.length === 0) {
    out.push({
      kind: "attempt-failed",
      start: e.startedAt,
      end: e.updatedAt,
      attempt: e.attempt,
      label: `failed: ${e.error?.message ?? ""}`,
    });
  } else if (e.status === "waiting") {
    out.push({
      kind: "wait",
      start: e.startedAt,
      end: Math.max(now, e.wakeAt ?? now),
      open: true,
      label: `${e.name}: waiting`,
    });
  }
  return out;
}

/** Round tick steps for an axis of `spanMs` with about `count` ticks. */
export function ticks(start: number, end: number, count = 6): number[] {
  const span = Math.max(1, end - start);
  const steps = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5,
    72e5, 144e5, 216e5, 432e5, 864e5,
  ];
  const step = steps.find((s) => span / s <= count) ?? Math.ceil(span / count / 864e5) * 864e5;
  const out: number[] = [];
  for (let t = 0; t <= span + 0.5; t += step) out.push(t);
  return out;
}
