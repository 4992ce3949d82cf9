import { NondeterminismError } from "./errors.js";
import type { EntryKind, JournalEntry } from "./types.js";

/** What the workflow code asks for at a given sequence number. */
export interface Expectation {
  seq: number;
  kind: EntryKind;
  name: string;
}

const describe = (kind: string, name: string) => `${kind}("${name}")`;

/**
 * Replay rule: the entry recorded at `seq` must be of the same kind and name as what the code now asks
 * for. Anything else means the code changed under a running run; we fail loudly instead of diverging.
 */
export function matchRecorded(
  expected: Expectation,
  recorded: JournalEntry | undefined,
): JournalEntry | undefined {
  if (!recorded) return undefined;
  if (recorded.kind !== expected.kind || recorded.name !== expected.name) {
    throw new NondeterminismError(
      expected.seq,
      describe(expected.kind, expected.name),
      describe(recorded.kind, recorded.name),
    );
  }
  return recorded;
}

/**
 * When the workflow function has returned, every recorded entry must have been asked for again.
 * `remaining` holds the recorded entries the code did not reach: any of them means a step was removed.
 */
export function checkNoLeftovers(remaining: Iterable<JournalEntry>): void {
  for (const entry of remaining) {
    if (entry.kind === "undo") continue;
    throw new NondeterminismError(
      entry.seq,
      "nothing (the workflow returned)",
      describe(entry.kind, entry.name),
    );
  }
}
