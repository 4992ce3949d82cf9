// Turns span records into OpenTelemetry spans and hands them to the SDK's processor and exporter. It
// runs in the tracing worker thread (the usual case) or, for an exporter object that cannot cross
// threads, in the engine's thread. Sampling was decided by the engine's thread: every record is written.
import {
  type Attributes,
  type HrTime,
  type Link,
  type SpanContext,
  SpanKind,
  type SpanStatus,
  SpanStatusCode,
  TraceFlags,
} from "@opentelemetry/api";
import { hrTimeDuration, millisToHrTime } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  type TimedEvent,
} from "@opentelemetry/sdk-trace-base";
import {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
} from "@opentelemetry/semantic-conventions";
import { BoundedMap } from "./bounded.js";
import type { BatchOptions, ExportConfig, ExportCounts, RecordWriter } from "./export-config.js";
import { ATTR, resourceAttributes, SCOPE_NAME, spanName } from "./span-attributes.js";
import { type RunIds, SpanIds } from "./span-ids.js";
import {
  CLAIM_FLAG,
  recordAt,
  SPAN_STATUS,
  SPAN_TYPE,
  type SpanColumns,
  type SpanRecord,
} from "./span-records.js";

const SCOPE = { name: SCOPE_NAME };
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];

/**
 * Builds finished spans from records and hands them to OpenTelemetry's span processor (batching) and
 * exporter (OTLP). A record is a span that has already ended, with its times and ids known, so it
 * becomes a ReadableSpan (the SDK's interface for finished spans, what processors and exporters take)
 * directly: the SDK's live Span, with its clock reads, sampler and id generator, has nothing to do here.
 */
export class SpanWriter implements RecordWriter {
  private readonly spanIds: SpanIds;
  /** A run's spans arrive together (claim, attempts, root): its ids are hashed once, not per span. */
  private readonly recent = new BoundedMap<string, RunIds & { fence: number; claimSpanId: string }>(4_096);
  private readonly resource: Resource;
  private readonly processor: SpanProcessor;
  private readonly exporter: SpanExporter;
  readonly counts: ExportCounts = { exported: 0, failed: 0, dropped: 0 };

  constructor(config: ExportConfig) {
    this.spanIds = new SpanIds(config.traceNamespace ?? "");
    this.resource = resourceFromAttributes(resourceAttributes(config));
    this.exporter = counting(exporterFor(config.exporter), this.counts);
    this.processor = processorFor(this.exporter, config.batch);
  }

  write(r: SpanRecord): void {
    this.processor.onEnd(this.toSpan(r));
  }

  writeColumns(columns: SpanColumns): void {
    for (let i = 0; i < columns.count; i++) this.write(recordAt(columns, i));
  }

  /**
   * Export what is queued and wait for every export in flight: the batch processor's own forceFlush
   * does not wait for a batch it began sending before (when the queue filled or its timer fired).
   */
  async forceFlush(): Promise<void> {
    await this.processor.forceFlush();
    await this.exporter.forceFlush?.();
  }

  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }

  private idsOf(runId: string): RunIds & { fence: number; claimSpanId: string } {
    let ids = this.recent.get(runId);
    if (!ids) {
      ids = { ...this.spanIds.run(runId), fence: 0, claimSpanId: "" };
      this.recent.set(runId, ids);
    }
    return ids;
  }

  private claimSpanId(runId: string, fence: number): string {
    const ids = this.idsOf(runId);
    if (ids.fence !== fence) {
      ids.fence = fence;
      ids.claimSpanId = this.spanIds.claim(ids, fence);
    }
    return ids.claimSpanId;
  }

  private toSpan(r: SpanRecord): ReadableSpan {
    const ids = this.idsOf(r.runId);
    const { traceId, rootSpanId } = ids;
    let spanId = rootSpanId;
    let parentSpanId: string | undefined;
    if (r.type === SPAN_TYPE.execute) {
      spanId = this.claimSpanId(r.runId, r.fence);
      parentSpanId = rootSpanId;
    } else if (r.type !== SPAN_TYPE.run) {
      spanId =
        r.type === SPAN_TYPE.step
          ? this.spanIds.attempt(ids, r.fence, r.seq, r.attempt)
          : this.spanIds.task(ids, r.fence, r.seq);
      // Under the claim it was made in; a span from before any claim this process saw hangs off the run.
      parentSpanId = r.fence > 0 ? this.claimSpanId(r.runId, r.fence) : rootSpanId;
    }
    const startTime = millisToHrTime(r.start);
    const endTime = millisToHrTime(Math.max(r.end, r.start));
    const error = r.detail?.error;
    const attributes = attributesOf(r);
    if (error?.code) attributes[ATTR.errorCode] = error.code;
    return new FinishedSpan(
      spanName(r.type, r.workflow, r.label),
      r.type === SPAN_TYPE.task ? SpanKind.PRODUCER : SpanKind.INTERNAL,
      { traceId, spanId, traceFlags: TraceFlags.SAMPLED },
      parentSpanId ? { traceId, spanId: parentSpanId, traceFlags: TraceFlags.SAMPLED } : undefined,
      startTime,
      endTime,
      statusOf(r),
      attributes,
      // A claim continuing a run begun earlier (maybe on a node that crashed) links to the run's root.
      r.type === SPAN_TYPE.execute && r.attempt & CLAIM_FLAG.resumed
        ? [
            {
              context: { traceId, spanId: rootSpanId, traceFlags: TraceFlags.SAMPLED },
              attributes: { "dirigent.link": "resumed" },
            },
          ]
        : NO_LINKS,
      error
        ? [
            {
              name: "exception",
              time: endTime,
              attributes: {
                // As the SDK's recordException: the code when there is one, else the error's name.
                [ATTR_EXCEPTION_TYPE]: error.code ?? error.name,
                [ATTR_EXCEPTION_MESSAGE]: error.message,
                ...(error.stack ? { [ATTR_EXCEPTION_STACKTRACE]: error.stack } : {}),
              },
            },
          ]
        : NO_EVENTS,
      this.resource,
    );
  }
}

/**
 * A span that ended before it was made: the SDK's ReadableSpan interface as a class, so a span costs
 * one object (an object literal with a spanContext closure cost a closure and its naming per span).
 */
class FinishedSpan implements ReadableSpan {
  readonly duration: HrTime;
  readonly ended = true;
  readonly instrumentationScope = SCOPE;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly startTime: HrTime,
    readonly endTime: HrTime,
    readonly status: SpanStatus,
    readonly attributes: Attributes,
    readonly links: Link[],
    readonly events: TimedEvent[],
    readonly resource: Resource,
  ) {
    this.duration = hrTimeDuration(startTime, endTime);
  }

  spanContext(): SpanContext {
    return this.context;
  }
}

function statusOf(r: SpanRecord): SpanStatus {
  if (r.status === SPAN_STATUS.error)
    return { code: SpanStatusCode.ERROR, message: r.detail?.error?.message };
  return { code: r.status === SPAN_STATUS.ok ? SpanStatusCode.OK : SpanStatusCode.UNSET };
}

function attributesOf(r: SpanRecord): Attributes {
  const d = r.detail;
  const a: Attributes = { [ATTR.runId]: r.runId, [ATTR.workflow]: r.workflow };
  switch (r.type) {
    case SPAN_TYPE.step:
      a[ATTR.step] = r.label;
      a[ATTR.seq] = r.seq;
      a[ATTR.attempt] = r.attempt;
      if (d?.retryDelayMs !== undefined) a[ATTR.retryDelayMs] = d.retryDelayMs;
      break;
    case SPAN_TYPE.execute:
      a[ATTR.fence] = r.fence;
      a[ATTR.replay] = (r.attempt & CLAIM_FLAG.replay) !== 0;
      a[ATTR.node] = r.label;
      if (r.attempt & CLAIM_FLAG.takeoverKnown) a[ATTR.takeover] = (r.attempt & CLAIM_FLAG.takeover) !== 0;
      break;
    case SPAN_TYPE.task:
      a[ATTR.step] = r.label;
      a[ATTR.seq] = r.seq;
      if (d?.queue) a[ATTR.queue] = d.queue;
      break;
    default:
      a[ATTR.status] = r.label;
  }
  if (d?.endedBy) a[ATTR.ended] = d.endedBy;
  return a;
}

function processorFor(exporter: SpanExporter, batch: BatchOptions | false | undefined): SpanProcessor {
  if (batch === false) return new SimpleSpanProcessor(exporter);
  const b = batch ?? {};
  return new BatchSpanProcessor(exporter, {
    scheduledDelayMillis: b.scheduleDelayMs,
    maxQueueSize: b.maxQueueSize,
    maxExportBatchSize: b.maxExportBatchSize,
    exportTimeoutMillis: b.exportTimeoutMs,
  });
}

function exporterFor(exporter: ExportConfig["exporter"]): SpanExporter {
  if (exporter === "console") return new ConsoleSpanExporter();
  if (!("url" in exporter)) return exporter;
  const config = { url: exporter.url, headers: exporter.headers, timeoutMillis: exporter.timeoutMs };
  return exporter.protocol === "http/json" ? new OtlpJsonExporter(config) : new OtlpProtobufExporter(config);
}

/** Counts what the exporter reports, so a caller can see spans exported and failed. */
function counting(exporter: SpanExporter, counts: ExportCounts): SpanExporter {
  return {
    export(spans: ReadableSpan[], done) {
      exporter.export(spans, (result) => {
        if (result.code === 0) counts.exported += spans.length;
        else counts.failed += spans.length;
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
