// Exports span records to an OTLP/HTTP protobuf endpoint without building OpenTelemetry span objects:
// records queue here in flat arrays, are cut into batches and encoded by OtlpSpanEncoder, and are sent
// by OpenTelemetry's own OTLP/HTTP transport (@opentelemetry/otlp-exporter-base: endpoint, headers,
// compression and timeout from options and OTEL_EXPORTER_OTLP_* variables, retries with backoff on
// 429/502/503/504). It batches as OpenTelemetry's BatchSpanProcessor does (the OTEL_BSP_* settings),
// but holds at most MAX_IN_FLIGHT requests in flight, so a slow collector makes batches wait in the
// queue (and the queue drop spans beyond its size, counted) rather than fail with the transport's
// "Concurrent export limit reached".
import type { ExportResult } from "@opentelemetry/core";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import { type ISerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { BatchOptions, ExportCounts, OtlpExporterOptions, RecordWriter } from "./export-config.js";
import { type EncoderOptions, OtlpSpanEncoder, type SpanSlice } from "./otlp-span-encoder.js";
import { SpanBatch, type SpanColumns, type SpanRecord } from "./span-records.js";

/** OpenTelemetry's BatchSpanProcessor defaults (OTEL_BSP_*). */
const DEFAULTS = {
  scheduleDelayMs: 5_000,
  maxQueueSize: 2_048,
  maxExportBatchSize: 512,
  exportTimeoutMs: 30_000,
};
/** Requests in flight at once: one being sent while the next is encoded. */
const MAX_IN_FLIGHT = 2;

/** The slices one request carries. */
type Batch = SpanSlice[];

const spansIn = (batch: Batch) => batch.reduce((n, s) => n + s.to - s.from, 0);

export class OtlpRecordExporter implements RecordWriter {
  readonly counts: ExportCounts = { exported: 0, failed: 0, dropped: 0 };
  private readonly settings: typeof DEFAULTS;
  private readonly delegate: ReturnType<typeof createOtlpHttpExportDelegate<Batch, unknown>>;
  /** Queued spans, oldest first, as slices of the batches they came in. */
  private readonly queue: SpanSlice[] = [];
  private queued = 0;
  /** Spans written one by one (write: the engine's thread, if the worker died) gather here. */
  private loose = new SpanBatch();
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Set while a forceFlush waits: batches go out however small. */
  private flushWaiters: (() => void)[] = [];
  private shutDown = false;

  constructor(exporter: OtlpExporterOptions, encoder: EncoderOptions, batch: BatchOptions = {}) {
    this.settings = {
      scheduleDelayMs: batch.scheduleDelayMs ?? DEFAULTS.scheduleDelayMs,
      maxQueueSize: batch.maxQueueSize ?? DEFAULTS.maxQueueSize,
      maxExportBatchSize: Math.min(
        batch.maxExportBatchSize ?? DEFAULTS.maxExportBatchSize,
        batch.maxQueueSize ?? DEFAULTS.maxQueueSize,
      ),
      exportTimeoutMs: batch.exportTimeoutMs ?? DEFAULTS.exportTimeoutMs,
    };
    const spanEncoder = new OtlpSpanEncoder(encoder);
    const serializer: ISerializer<Batch, unknown> = {
      serializeRequest: (slices) => spanEncoder.encode(slices),
      deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
    };
    this.delegate = createOtlpHttpExportDelegate(
      convertLegacyHttpOptions(
        { url: exporter.url, headers: exporter.headers, timeoutMillis: exporter.timeoutMs },
        "TRACES",
        "v1/traces",
        { "Content-Type": "application/x-protobuf" },
      ),
      serializer,
      "otlp_http_span_exporter",
      { name: "span", countItems: spansIn },
      undefined,
    );
  }

  write(r: SpanRecord): void {
    this.loose.add(r);
    if (this.loose.full) this.takeLoose();
    this.schedule();
  }

  writeColumns(columns: SpanColumns): void {
    this.takeLoose();
    this.enqueue(columns);
    this.schedule();
  }

  /** Export everything queued and wait for every request in flight. */
  forceFlush(): Promise<void> {
    this.takeLoose();
    if (this.queued === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.flushWaiters.push(resolve);
      this.pump();
    });
  }

  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    await this.forceFlush();
    this.shutDown = true;
    clearTimeout(this.timer);
    await this.delegate.shutdown();
  }

  private takeLoose(): void {
    if (this.loose.count === 0) return;
    const batch = this.loose;
    this.loose = new SpanBatch();
    this.enqueue(batch);
  }

  /** Queue a batch; spans beyond maxQueueSize are dropped (counted), as the batch processor drops. */
  private enqueue(columns: SpanColumns): void {
    const n = columns.count;
    if (this.shutDown) {
      this.counts.dropped += n;
      return;
    }
    const room = Math.max(0, this.settings.maxQueueSize - this.queued);
    const kept = Math.min(n, room);
    this.counts.dropped += n - kept;
    if (kept === 0) return;
    this.queue.push({ columns, from: 0, to: kept });
    this.queued += kept;
  }

  /** Send when a full batch is queued, else after the schedule delay (as the batch processor). */
  private schedule(): void {
    if (this.queued >= this.settings.maxExportBatchSize) this.pump();
    else if (this.queued > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump(true);
      }, this.settings.scheduleDelayMs);
      this.timer.unref();
    }
  }

  /** Start exports while there is room in flight: full batches, or any batch when `due` or flushing. */
  private pump(due = false): void {
    this.takeLoose();
    while (this.inFlight < MAX_IN_FLIGHT && this.queued > 0) {
      const partialAllowed = due || this.flushWaiters.length > 0;
      if (this.queued < this.settings.maxExportBatchSize && !partialAllowed) break;
      this.send(this.takeBatch(this.settings.maxExportBatchSize));
      due = false;
    }
    if (this.queued > 0 && !this.timer && this.inFlight < MAX_IN_FLIGHT) this.schedule();
    this.settleFlushes();
  }

  /** Up to `max` spans from the front of the queue, splitting a slice where the batch ends. */
  private takeBatch(max: number): Batch {
    const batch: Batch = [];
    let room = Math.min(max, this.queued);
    while (room > 0) {
      const head = this.queue[0];
      const n = head.to - head.from;
      if (n <= room) {
        batch.push(head);
        this.queue.shift();
        room -= n;
        this.queued -= n;
      } else {
        batch.push({ columns: head.columns, from: head.from, to: head.from + room });
        head.from += room;
        this.queued -= room;
        room = 0;
      }
    }
    return batch;
  }

  private send(batch: Batch): void {
    const n = spansIn(batch);
    this.inFlight++;
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      if (ok) this.counts.exported += n;
      else this.counts.failed += n;
      this.inFlight--;
      this.pump();
    };
    // As the batch processor's export timeout: a request the transport has not answered by then
    // counts as failed and frees its slot.
    const timeout = setTimeout(() => done(false), this.settings.exportTimeoutMs);
    timeout.unref();
    try {
      this.delegate.export(batch, (result: ExportResult) => done(result.code === 0));
    } catch {
      done(false);
    }
  }

  private settleFlushes(): void {
    if (this.flushWaiters.length === 0 || this.queued > 0 || this.inFlight > 0) return;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
