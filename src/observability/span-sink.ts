// Where the engine's thread puts finished span records: a worker thread that builds and exports the
// OpenTelemetry spans (the usual case), or the engine's own thread when the exporter is an object that
// cannot cross threads (a SpanExporter a program passes in).
import { Worker } from "node:worker_threads";
import type { ExportConfig, ExportCounts, RecordWriter } from "./export-config.js";
import { createRecordWriter } from "./record-writer.js";
import {
  SpanBatch,
  type SpanColumns,
  type SpanFieldsWriter,
  type SpanRecord,
  transferList,
} from "./span-records.js";
import { SpanWriter } from "./span-writer.js";

/** Spans recorded, dropped before export (queue full, worker gone), exported and failed to export. */
export interface TracingStats {
  recorded: number;
  dropped: number;
  exported: number;
  failed: number;
}

export interface SpanSink {
  /**
   * A finished span, field by field: on the usual path it goes into the batch's columns with no object
   * made for it, so it leaves the engine's heap nothing to collect.
   */
  readonly span: SpanFieldsWriter;
  /** Every span added before the call has been handed to the exporter and the exporter flushed. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
  stats(): TracingStats;
}

/** Messages to the worker (tracing-worker.ts). */
export type WorkerRequest =
  | { type: "records"; columns: SpanColumns }
  | { type: "flush"; id: number }
  | { type: "shutdown"; id: number };

/** Messages from the worker. */
export type WorkerReply =
  /** The `taken` spans of a records message were handed to the exporter (or dropped, counted). */
  | { type: "ack"; taken: number; counts: ExportCounts }
  | { type: "done"; id: number; counts: ExportCounts; error?: string }
  | { type: "error"; message: string };

/** Spans queued at most by default: OpenTelemetry's default batch queue (OTEL_BSP_MAX_QUEUE_SIZE). */
export const DEFAULT_MAX_QUEUE = 2_048;

/**
 * A batch is posted this long after its first span, or at once when it is full (BATCH_CAPACITY). A
 * message between threads costs about as much as a few hundred spans in it, so posting once per event
 * loop turn (a handful of spans) cost the engine more than recording them; spans wait for the batch
 * processor's delay (seconds) anyway.
 */
const POST_DELAY_MS = 20;

export function createSpanSink(config: ExportConfig, onError: (error: Error) => void): SpanSink {
  const exporter = config.exporter;
  // An exporter object cannot be sent to another thread; a URL or "console" can.
  if (typeof exporter === "object" && !("url" in exporter)) return new InThreadSink(config);
  return new WorkerSink(config, onError);
}

type SpanFields = Parameters<SpanFieldsWriter>;

/** The record of a span given field by field, for the paths that build SDK spans (rare). */
function recordOf([
  type,
  runId,
  workflow,
  label,
  seq,
  fence,
  attempt,
  start,
  end,
  status,
  detail,
]: SpanFields): SpanRecord {
  return { type, runId, workflow, label, seq, fence, attempt, start, end, status, detail };
}

/** Builds and exports spans in the calling thread. */
class InThreadSink implements SpanSink {
  private readonly writer: SpanWriter;
  private recorded = 0;
  private closed = false;

  constructor(config: ExportConfig) {
    this.writer = new SpanWriter(config);
  }

  readonly span: SpanFieldsWriter = (...fields) => {
    if (this.closed) return;
    this.recorded++;
    this.writer.write(recordOf(fields));
  };

  flush(): Promise<void> {
    return this.writer.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.shutdown();
  }

  stats(): TracingStats {
    const { exported, failed, dropped } = this.writer.counts;
    return { recorded: this.recorded, dropped, exported, failed };
  }
}

/**
 * Hands span records to a worker thread in batches (SpanBatch: columns, transferred), one message per
 * full batch or per POST_DELAY_MS. At most `maxQueued` records are on their way (posted, not yet taken
 * by the worker); more are dropped and counted, as OpenTelemetry's batch processor drops spans beyond
 * its queue. If the worker dies, spans are built in this thread from then on.
 */
class WorkerSink implements SpanSink {
  private readonly worker: Worker;
  private batch = new SpanBatch();
  private posting = false;
  private inFlight = 0;
  private readonly maxQueued: number;
  private readonly waiting = new Map<number, () => void>();
  private nextId = 1;
  private counts: ExportCounts = { exported: 0, failed: 0, dropped: 0 };
  private recorded = 0;
  private dropped = 0;
  private fallback: RecordWriter | undefined;
  private closed = false;

  constructor(
    private readonly config: ExportConfig,
    private readonly onError: (error: Error) => void,
  ) {
    this.maxQueued = (config.batch ? config.batch.maxQueueSize : undefined) ?? DEFAULT_MAX_QUEUE;
    const here = import.meta.url;
    const entry = new URL(`./tracing-worker${here.slice(here.lastIndexOf("."))}`, here).href;
    this.worker = new Worker(new URL("./tracing-worker-boot.mjs", here), {
      workerData: { entry, config },
      name: "dirigent-tracing",
    });
    // The worker must not keep a finished program alive; it is held only while a flush waits.
    this.worker.unref();
    // Node 20 ignores unref() on a worker still starting; say it again once it runs (unless a flush waits).
    this.worker.once("online", () => {
      if (this.waiting.size === 0) this.worker.unref();
    });
    this.worker.on("message", (m: WorkerReply) => this.received(m));
    this.worker.on("error", (error) => this.failed(error));
    this.worker.on("exit", (code) => {
      if (!this.closed) this.failed(new Error(`tracing worker exited with code ${code}`));
    });
  }

  readonly span: SpanFieldsWriter = (
    type,
    runId,
    workflow,
    label,
    seq,
    fence,
    attempt,
    start,
    end,
    status,
    detail,
  ) => {
    if (this.fallback) {
      this.recorded++;
      this.fallback.write(
        recordOf([type, runId, workflow, label, seq, fence, attempt, start, end, status, detail]),
      );
      return;
    }
    if (this.closed || this.inFlight + this.batch.count >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.recorded++;
    this.batch.push(type, runId, workflow, label, seq, fence, attempt, start, end, status, detail);
    if (this.batch.full) this.post();
    else if (!this.posting) {
      this.posting = true;
      setTimeout(this.post, POST_DELAY_MS).unref();
    }
  };

  async flush(): Promise<void> {
    if (this.fallback) return this.fallback.forceFlush();
    if (this.closed) return;
    await this.request("flush");
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    if (this.fallback) {
      this.closed = true;
      return this.fallback.shutdown();
    }
    await this.request("shutdown");
    this.closed = true;
    await this.worker.terminate();
  }

  stats(): TracingStats {
    const fallback = this.fallback?.counts ?? { exported: 0, failed: 0, dropped: 0 };
    return {
      recorded: this.recorded,
      dropped: this.dropped + this.counts.dropped + fallback.dropped,
      exported: this.counts.exported + fallback.exported,
      failed: this.counts.failed + fallback.failed,
    };
  }

  private readonly post = (): void => {
    this.posting = false;
    if (this.batch.count === 0 || this.fallback) return;
    const batch = this.batch;
    this.batch = new SpanBatch();
    this.inFlight += batch.count;
    this.worker.postMessage({ type: "records", columns: batch } satisfies WorkerRequest, transferList(batch));
  };

  private request(type: "flush" | "shutdown"): Promise<void> {
    this.post();
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      this.worker.ref();
      this.waiting.set(id, () => {
        this.waiting.delete(id);
        if (this.waiting.size === 0) this.worker.unref();
        resolve();
      });
      this.worker.postMessage({ type, id } satisfies WorkerRequest);
    });
  }

  private received(m: WorkerReply): void {
    if (m.type === "ack") {
      this.inFlight -= m.taken;
      this.counts = m.counts;
    } else if (m.type === "done") {
      this.counts = m.counts;
      if (m.error) this.onError(new Error(`tracing export: ${m.error}`));
      this.waiting.get(m.id)?.();
    } else this.onError(new Error(m.message));
  }

  /** The worker is gone: what it held is lost (counted), later spans are built in this thread. */
  private failed(error: Error): void {
    if (this.fallback || this.closed) return;
    this.onError(error);
    this.dropped += this.inFlight + this.batch.count;
    this.inFlight = 0;
    this.batch = new SpanBatch();
    try {
      this.fallback = createRecordWriter(this.config);
    } catch (fault) {
      // The exporter cannot be made here either: no more spans (each is counted as dropped).
      this.onError(fault as Error);
      this.closed = true;
    }
    for (const resolve of [...this.waiting.values()]) resolve();
  }
}
