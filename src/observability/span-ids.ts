// The ids of a run's spans, all derived from the run id: the same on every node and in every thread.
import { partSpanIdHex, runDigestBytes, SPAN_PART } from "./trace-context.js";

/** The trace id and root span id of a run, and its digest, from which its other span ids derive. */
export interface RunIds {
  traceId: string;
  rootSpanId: string;
  digest: Buffer;
}

export class SpanIds {
  constructor(private readonly namespace: string) {}

  /** The run's ids: its one SHA-256; keep them to derive the others without hashing again. */
  run(runId: string): RunIds {
    const digest = runDigestBytes(runId, this.namespace);
    return { traceId: digest.toString("hex", 0, 16), rootSpanId: digest.toString("hex", 16, 24), digest };
  }

  /** The claim span ("execute") of the claim with this fence. */
  claim(ids: RunIds, fence: number): string {
    return partSpanIdHex(ids.digest, SPAN_PART.claim, fence);
  }

  /** A step attempt made under the claim with this fence. */
  attempt(ids: RunIds, fence: number, seq: number, attempt: number): string {
    return partSpanIdHex(ids.digest, SPAN_PART.step, fence, seq, attempt);
  }

  /** The PRODUCER span of a task queued under the claim with this fence. */
  task(ids: RunIds, fence: number, seq: number): string {
    return partSpanIdHex(ids.digest, SPAN_PART.task, fence, seq);
  }
}
