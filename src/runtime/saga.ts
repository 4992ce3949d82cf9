import { type RetryPolicy, resolveRetryPolicy } from "../core/retry.js";
import { isAbandoned } from "./abandon.js";
import type { StepInfo } from "./context.js";
import type { RunExecution } from "./execution.js";
import { runStep } from "./step-runner.js";

/** Seqs of compensation entries: offset from the step they undo, so they never collide with code seqs. */
export const UNDO_SEQ_BASE = 1_000_000_000;

/** Compensations are retried harder than ordinary steps by default: giving up leaves a half-done saga. */
export const DEFAULT_UNDO_RETRY: Partial<RetryPolicy> = { maxAttempts: 10 };

/** A completed step that declared an undo, remembered (in seq order) as the code reaches it. */
export interface UndoRecord {
  seq: number;
  name: string;
  result: unknown;
  undo: (result: any, info: StepInfo) => unknown;
  policy: RetryPolicy;
  /** When the step's completion was recorded: the same live and on replay. */
  completedAt: number;
}

export function undoPolicy(stepPolicy: RetryPolicy, override?: Partial<RetryPolicy>): RetryPolicy {
  return resolveRetryPolicy({ ...DEFAULT_UNDO_RETRY, ...override }, stepPolicy);
}

/**
 * Run the undos of completed steps, latest completion first. Each is a durable step of kind "undo" at
 * UNDO_SEQ_BASE + the step's seq: already completed ones are skipped on replay, a failing one is retried
 * under its policy, and one that fails for good is recorded and the rest still run.
 */
export async function runCompensations(exec: RunExecution): Promise<void> {
  // Latest completion first, by the recorded completion time (then seq): steps that ran concurrently
  // complete in any order live but resolve in seq order on replay, so the order in which the code saw
  // them complete must not decide the compensation order.
  for (const u of [...exec.undos].sort((a, b) => b.completedAt - a.completedAt || b.seq - a.seq)) {
    const seq = UNDO_SEQ_BASE + u.seq;
    try {
      await runStep(exec, {
        seq,
        kind: "undo",
        name: `undo:${u.name}`,
        fn: (info) => u.undo(u.result, info),
        policy: u.policy,
        recorded: exec.undoJournal.get(seq),
        internal: true,
        detail: { compensates: u.seq },
      });
    } catch (err) {
      if (isAbandoned(err)) throw err;
      // Recorded as failed in the journal; the remaining compensations still run.
    }
  }
}
