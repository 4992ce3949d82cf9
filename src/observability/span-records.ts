// A finished span as the engine's thread records it: plain values only, so that a batch of them
// crosses to the tracing worker as one flat array (structured clone of primitives is several times
// cheaper than of objects, and it allocates nothing per span on the way out).

/** The kinds of spans Dirigent writes (see tracing-spans.ts). */
export const SPAN_TYPE = { run: 0, execute: 1, step: 2, task: 3 } as const;
export type SpanType = (typeof SPAN_TYPE)[keyof typeof SPAN_TYPE];

/** OpenTelemetry's status codes (unset, ok, error), as numbers. */
export const SPAN_STATUS = { unset: 0, ok: 1, error: 2 } as const;
export type SpanStatus = (typeof SPAN_STATUS)[keyof typeof SPAN_STATUS];

/** Bits of `flags` on a claim span (type execute). */
export const CLAIM_FLAG = { replay: 1, takeoverKnown: 2, takeover: 4, resumed: 8 } as const;

/** The rare parts of a span; absent in the common case (a step attempt that completed). */
export interface SpanDetail {
  error?: { name: string; message: string; code?: string; stack?: string };
  /** A failed attempt that will be retried after this long. */
  retryDelayMs?: number;
  /** Why the span was ended other than by its own outcome (superseded, shutdown, evicted). */
  endedBy?: string;
  /** The task's queue (type task). */
  queue?: string;
}

/**
 * A finished span. It carries no ids: trace, root and span ids all derive from the run id, the claim's
 * fence, the step's seq and the attempt (span-ids.ts), so the thread that builds the span computes them
 * and the engine's thread computes one only when a call or a log line asks for it.
 */
export interface SpanRecord {
  type: SpanType;
  runId: string;
  workflow: string;
  /** Step or task name (step, task), node id (execute), final run status (run). */
  label: string;
  /** Journal seq (step, task); 0 otherwise. */
  seq: number;
  /** The fence of the claim the span belongs to (step, task, execute); 0 when none was seen. */
  fence: number;
  /** Attempt number (step); CLAIM_FLAG bits (execute); 0 otherwise. */
  attempt: number;
  /** Wall-clock times in milliseconds since the epoch, with sub-millisecond fractions. */
  start: number;
  end: number;
  status: SpanStatus;
  detail?: SpanDetail;
}

/** Values per record in the flat buffer. */
export const RECORD_WIDTH = 11;

/** Append one record to `buffer` (field order as in SpanRecord). */
export function pushRecord(buffer: unknown[], r: SpanRecord): void {
  buffer.push(
    r.type,
    r.runId,
    r.workflow,
    r.label,
    r.seq,
    r.fence,
    r.attempt,
    r.start,
    r.end,
    r.status,
    r.detail,
  );
}

/** Visit each record of a buffer filled by pushRecord. */
export function forEachRecord(buffer: readonly unknown[], visit: (r: SpanRecord) => void): void {
  for (let i = 0; i + RECORD_WIDTH <= buffer.length; i += RECORD_WIDTH) {
    visit({
      type: buffer[i] as SpanType,
      runId: buffer[i + 1] as string,
      workflow: buffer[i + 2] as string,
      label: buffer[i + 3] as string,
      seq: buffer[i + 4] as number,
      fence: buffer[i + 5] as number,
      attempt: buffer[i + 6] as number,
      start: buffer[i + 7] as number,
      end: buffer[i + 8] as number,
      status: buffer[i + 9] as SpanStatus,
      detail: buffer[i + 10] as SpanDetail | undefined,
    });
  }
}

/** Wall-clock now in milliseconds with the monotonic clock's resolution (Date.now() is whole ms). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
