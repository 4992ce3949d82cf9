import type { EncodedEntry } from "../store/store.js";

/** A journal entry for a durable wait (sleep, signal, child, task) that has just begun. */
export function waitingEntry(
  seq: number,
  kind: EncodedEntry["kind"],
  name: string,
  now: number,
  wakeAt: number | undefined,
): EncodedEntry {
  return {
    seq,
    kind,
    name,
    status: "waiting",
    attempt: 0,
    resultJson: null,
    errorJson: null,
    wakeAt,
    detailJson: null,
    startedAt: now,
    updatedAt: now,
  };
}
