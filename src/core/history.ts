import type { AttemptRecord, ErrorInfo, JournalEntry, RunRecord, SignalRecord } from "./types.js";

/** One line of a run's event history, as the CLI, the API and the dashboard show it. */
export interface HistoryEvent {
  time: number;
  type:
    | "run:created"
    | "run:started"
    | "run:finished"
    | "run:retried"
    | "step:attempt-failed"
    | "step:completed"
    | "step:failed"
    | "step:retrying"
    | "step:waiting"
    | "signal:received"
    | "undo:completed"
    | "undo:failed";
  seq?: number;
  kind?: string;
  name?: string;
  attempt?: number;
  status?: string;
  result?: unknown;
  error?: ErrorInfo;
  wakeAt?: number;
  detail?: unknown;
}

export interface RunHistory {
  run: RunRecord;
  journal: JournalEntry[];
  attempts: AttemptRecord[];
  signals: SignalRecord[];
  events: HistoryEvent[];
}

/**
 * Merge what the store keeps (run row, journal entries, failed attempts, signals) into one timeline.
 * Pure: the same records always give the same events, ordered by time then seq.
 */
export function buildHistory(
  run: RunRecord,
  journal: JournalEntry[],
  attempts: AttemptRecord[],
  signals: SignalRecord[],
): HistoryEvent[] {
  const events: HistoryEvent[] = [
    { time: run.createdAt, type: "run:created", detail: { workflow: run.workflow, version: run.version } },
  ];
  if (run.startedAt !== undefined) events.push({ time: run.startedAt, type: "run:started" });
  for (const a of attempts) {
    const entry = journal.find((e) => e.seq === a.seq);
    events.push({
      time: a.endedAt,
      type: "step:attempt-failed",
      seq: a.seq,
      kind: entry?.kind,
      name: entry?.name,
      attempt: a.attempt,
      error: a.error,
      detail: { startedAt: a.startedAt, node: a.node },
    });
  }
  for (const e of journal) {
    const base = { seq: e.seq, kind: e.kind, name: e.name, attempt: e.attempt || undefined };
    // A retry of the failed run reopened this entry; its earlier attempts stay listed before it.
    for (const r of e.detail?.retries ?? []) {
      events.push({
        time: r.at,
        type: "run:retried",
        seq: e.seq,
        kind: e.kind,
        name: e.name,
        detail: { afterAttempt: r.afterAttempt },
      });
    }
    if (e.kind === "undo") {
      if (e.status === "completed") events.push({ time: e.updatedAt, type: "undo:completed", ...base });
      else if (e.status === "failed")
        events.push({ time: e.updatedAt, type: "undo:failed", ...base, error: e.error });
      continue;
    }
    if (e.status === "completed")
      events.push({ time: e.updatedAt, type: "step:completed", ...base, result: e.result });
    else if (e.status === "failed")
      events.push({ time: e.updatedAt, type: "step:failed", ...base, error: e.error });
    else if (e.status === "retrying")
      events.push({ time: e.updatedAt, type: "step:retrying", ...base, wakeAt: e.wakeAt });
    else events.push({ time: e.startedAt, type: "step:waiting", ...base, wakeAt: e.wakeAt });
  }
  for (const s of signals) {
    events.push({
      time: s.receivedAt,
      type: "signal:received",
      name: s.name,
      result: s.payload,
      detail: { consumedSeq: s.consumedSeq },
    });
  }
  if (run.completedAt !== undefined) {
    events.push({
      time: run.completedAt,
      type: "run:finished",
      status: run.status,
      error: run.error,
      result: run.output,
    });
  }
  // Equal times (a fast run, or a test clock) fall back to the lifecycle order, then the seq.
  const rank = (e: HistoryEvent) =>
    e.type === "run:created"
      ? 0
      : e.type === "run:started"
        ? 1
        : e.type === "run:finished"
          ? 3
          : e.type.startsWith("undo:")
            ? 2.5
            : 2;
  // Compensations run in reverse step order, so among equal times a later step's undo came first.
  const order = (e: HistoryEvent) => (e.type.startsWith("undo:") ? -(e.seq ?? 0) : (e.seq ?? -1));
  return events.sort((a, b) => a.time - b.time || rank(a) - rank(b) || order(a) - order(b));
}
