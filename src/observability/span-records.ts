// A finished span as the engine's thread records it: ids are not recorded but derived, and a batch of
// spans crosses to the tracing worker as columns (SpanBatch below).

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

/**
 * Takes a finished span field by field, SpanRecord's fields in its order. The hot path (the engine's
 * thread to a batch's columns) uses it so that no object is made per span.
 */
export type SpanFieldsWriter = (
  type: SpanType,
  runId: string,
  workflow: string,
  label: string,
  seq: number,
  fence: number,
  attempt: number,
  start: number,
  end: number,
  status: SpanStatus,
  detail: SpanDetail | undefined,
) => void;

/** Spans per batch: a batch goes to the worker when full, or POST_DELAY_MS after its first span. */
export const BATCH_CAPACITY = 256;
const INTS = 5; // type, seq, fence, attempt, status
const TIMES = 2; // start, end
const STRINGS = 3; // runId, workflow, label

/**
 * Finished spans, column by column: numbers in typed arrays, which cross to the worker by transfer (no
 * copy) and put nothing on the JavaScript heap, and strings by reference. A flat JavaScript array of
 * the same values cost the engine's thread far more than filling it: every time was a boxed number,
 * and the array and its numbers lived for up to 20 ms, long enough to be copied by the young-generation
 * garbage collector. (bench observability-cost: about 7 % of throughput.)
 */
export interface SpanColumns {
  count: number;
  ints: Int32Array;
  times: Float64Array;
  strings: string[];
  /** SpanRecord.detail by span index; absent when no span of the batch has one (the usual case). */
  details?: (SpanDetail | undefined)[];
}

/** A batch being filled in the engine's thread. */
export class SpanBatch implements SpanColumns {
  count = 0;
  readonly ints = new Int32Array(BATCH_CAPACITY * INTS);
  readonly times = new Float64Array(BATCH_CAPACITY * TIMES);
  readonly strings: string[] = [];
  details?: (SpanDetail | undefined)[];

  get full(): boolean {
    return this.count === BATCH_CAPACITY;
  }

  add(r: SpanRecord): void {
    this.push(
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

  /**
   * A span given field by field (SpanFieldsWriter): the engine's thread makes no record for it. A
   * method, not a property: a batch is posted to the worker as it is, and a function in its own
   * properties could not be cloned.
   */
  push(
    type: SpanType,
    runId: string,
    workflow: string,
    label: string,
    seq: number,
    fence: number,
    attempt: number,
    start: number,
    end: number,
    status: SpanStatus,
    detail: SpanDetail | undefined,
  ): void {
    const i = this.count++;
    const n = i * INTS;
    this.ints[n] = type;
    this.ints[n + 1] = seq;
    this.ints[n + 2] = fence;
    this.ints[n + 3] = attempt;
    this.ints[n + 4] = status;
    this.times[i * TIMES] = start;
    this.times[i * TIMES + 1] = end;
    this.strings.push(runId, workflow, label);
    if (detail) (this.details ??= [])[i] = detail;
  }
}

/**
 * The buffers to transfer when posting a batch: postMessage(message, transferList(batch)). The batch
 * itself goes as the message's columns (a structured clone keeps its fields, not its class).
 */
export function transferList(c: SpanColumns): ArrayBuffer[] {
  return [c.ints.buffer as ArrayBuffer, c.times.buffer as ArrayBuffer];
}

/** Span `i` of a batch as a record (for the SDK path; the OTLP encoder reads the columns). */
export function recordAt(c: SpanColumns, i: number): SpanRecord {
  const n = i * INTS;
  return {
    type: c.ints[n] as SpanType,
    runId: c.strings[i * STRINGS],
    workflow: c.strings[i * STRINGS + 1],
    label: c.strings[i * STRINGS + 2],
    seq: c.ints[n + 1],
    fence: c.ints[n + 2],
    attempt: c.ints[n + 3],
    start: c.times[i * TIMES],
    end: c.times[i * TIMES + 1],
    status: c.ints[n + 4] as SpanStatus,
    detail: c.details?.[i],
  };
}

/** Column offsets, for readers of SpanColumns that avoid building records. */
export const COLUMN = { ints: INTS, times: TIMES, strings: STRINGS } as const;
