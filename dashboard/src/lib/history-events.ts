// How the event table says each history event: its badge colour (a status class) and a one-line summary.
// Pure, so the words are tested without a browser.
import type { HistoryEvent } from "../api/types.js";
import { formatTime } from "./format.js";

const TONE: Record<string, string> = {
  "run:created": "pending",
  "run:started": "running",
  "run:retried": "retried",
  "step:completed": "completed",
  "undo:completed": "compensated",
  "step:attempt-failed": "retrying",
  "step:retrying": "retrying",
  "step:failed": "failed",
  "undo:failed": "failed",
  "step:waiting": "waiting",
  "signal:received": "running",
};

/** The status class of the event's badge: a finished run's own status, else one per event type. */
export function eventTone(e: HistoryEvent): string {
  return e.type === "run:finished" ? (e.status ?? "none") : (TONE[e.type] ?? "none");
}

export function eventSummary(e: HistoryEvent, now: number): string {
  if (e.error) return e.error.message + (e.error.code ? ` (${e.error.code})` : "");
  if (e.type === "step:retrying" && e.wakeAt) return `next attempt at ${formatTime(e.wakeAt, now, true)}`;
  if (e.type === "step:waiting" && e.wakeAt) return `until ${formatTime(e.wakeAt, now, true)}`;
  if (e.type === "run:created") {
    const d = e.detail as { workflow?: string; version?: string } | undefined;
    return d ? `${d.workflow ?? ""} v${d.version ?? ""}` : "";
  }
  if (e.type === "run:retried") {
    const d = e.detail as { afterAttempt?: number } | undefined;
    const after = d?.afterAttempt;
    return after ? `retried by user after attempt ${after}: a new round of attempts` : "retried by user";
  }
  if (e.result !== undefined) {
    const text = JSON.stringify(e.result);
    return text.length > 120 ? `${text.slice(0, 117)}…` : text;
  }
  return "";
}
