// Span records straight to an OTLP/HTTP protobuf request body (ExportTraceServiceRequest), for the
// tracing worker's usual path. OpenTelemetry's own route builds a ReadableSpan object per record, then
// its serializer turns each hex id back into bytes and re-encodes every attribute key; on a 2-core
// machine that CPU is taken from the engine (bench observability-cost). Here ids are hashed straight
// to bytes, constant keys are encoded once, and nothing is allocated per span. The output is the same,
// byte for byte, as the SDK's ProtobufTraceSerializer given SpanWriter's spans for the same records
// (test/observability/otlp-span-encoder.test.ts holds it to that), so the wire format is OpenTelemetry's.
//
// Field numbers: opentelemetry/proto/collector/trace/v1 (ExportTraceServiceRequest.resource_spans = 1),
// trace/v1 (ResourceSpans, ScopeSpans, Span, Span.Event, Span.Link, Status), common/v1 (KeyValue,
// AnyValue, InstrumentationScope), resource/v1 (Resource).
import { SpanKind, SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
} from "@opentelemetry/semantic-conventions";
import { BoundedMap } from "./bounded.js";
import { ProtobufBuffer, WIRE } from "./protobuf-buffer.js";
import { ATTR, spanName } from "./span-attributes.js";
import { CLAIM_FLAG, COLUMN, SPAN_STATUS, SPAN_TYPE, type SpanColumns } from "./span-records.js";
import { derivePartSpanId, runDigestBytes, SPAN_PART } from "./trace-context.js";

/** Span.flags: the trace flags, and "is_remote is known" (0x100); the SDK's value for local parents. */
const SPAN_FLAGS = TraceFlags.SAMPLED | 0x100;
/** Bytes an average span takes, to size a request's buffer once. */
const BYTES_PER_SPAN = 320;
/**
 * Encoded names and attributes kept per table (span names, workflow and step names): they come from
 * code, so few; past this many distinct values (a step named after a loop index) new ones are encoded
 * each time instead of kept.
 */
const MAX_CACHED = 4_096;

/**
 * A run's ids as bytes, its run id attribute encoded, and the span id of the claim last seen (spans of
 * one claim come together). A run's spans share all of it: made once per run, copied per span.
 */
interface RunIdBytes {
  /** Bytes 0..15 trace id, 16..23 root span id. */
  digest: Buffer;
  /** The dirigent.run_id attribute as a whole Span.attributes field. */
  runIdField: Buffer;
  fence: number;
  claimSpanId: Buffer | undefined;
}

/** Spans `from` (inclusive) to `to` (exclusive) of a batch. */
export interface SpanSlice {
  columns: SpanColumns;
  from: number;
  to: number;
}

export interface EncoderOptions {
  /** The resource's attributes in the order they are written (service.name among them). */
  resource: Record<string, string>;
  scopeName: string;
  /** TracingOptions.traceNamespace, mixed into every derived id. */
  traceNamespace?: string;
}

/** Encodes batches of span records (span-records.ts) as ExportTraceServiceRequest bodies. */
export class OtlpSpanEncoder {
  private readonly namespace: string;
  /** ResourceSpans.resource then ScopeSpans' first field (scope), encoded once. */
  private readonly resourceField: Buffer;
  private readonly scopeField: Buffer;
  private readonly recent = new BoundedMap<string, RunIdBytes>(4_096);
  private readonly keys = new Map<string, Buffer>();
  /** Span.name fields by span type, then by workflow (run, execute) or step (step, task) name. */
  private readonly names: Map<string, Buffer>[] = [new Map(), new Map(), new Map(), new Map()];
  /** Whole Span.attributes fields of string values, by key, then by value (workflow, step, node, status). */
  private readonly stringFields = new Map<string, Map<string, Buffer>>();
  /** A step's or task's span id, written here and copied into the request. */
  private readonly scratchId = Buffer.allocUnsafe(8);

  constructor(options: EncoderOptions) {
    this.namespace = options.traceNamespace ?? "";
    const resource = new ProtobufBuffer(256);
    resource.tag(1, WIRE.delimited);
    const r = resource.begin();
    for (const [key, value] of Object.entries(options.resource)) this.attribute(resource, 1, key, value);
    resource.tag(2, WIRE.varint); // dropped_attributes_count
    resource.varint(0);
    resource.end(r);
    this.resourceField = Buffer.from(resource.finish());
    const scope = new ProtobufBuffer(64);
    scope.tag(1, WIRE.delimited);
    const s = scope.begin();
    scope.tag(1, WIRE.delimited);
    scope.string(options.scopeName);
    scope.end(s);
    this.scopeField = Buffer.from(scope.finish());
  }

  /** One request holding the spans of every slice. */
  encode(slices: readonly SpanSlice[]): Buffer {
    let spans = 0;
    for (const s of slices) spans += s.to - s.from;
    const out = new ProtobufBuffer(256 + spans * BYTES_PER_SPAN);
    out.tag(1, WIRE.delimited); // ExportTraceServiceRequest.resource_spans
    const resourceSpans = out.begin();
    out.raw(this.resourceField);
    out.tag(2, WIRE.delimited); // ResourceSpans.scope_spans
    const scopeSpans = out.begin();
    out.raw(this.scopeField);
    for (const { columns, from, to } of slices) {
      for (let i = from; i < to; i++) {
        out.tag(2, WIRE.delimited); // ScopeSpans.spans
        const span = out.begin();
        this.span(out, columns, i);
        out.end(span);
      }
    }
    out.end(scopeSpans);
    out.end(resourceSpans);
    return out.finish();
  }

  private span(out: ProtobufBuffer, c: SpanColumns, i: number): void {
    const n = i * COLUMN.ints;
    const type = c.ints[n];
    const seq = c.ints[n + 1];
    const fence = c.ints[n + 2];
    const attempt = c.ints[n + 3];
    const status = c.ints[n + 4];
    const runId = c.strings[i * COLUMN.strings];
    const workflow = c.strings[i * COLUMN.strings + 1];
    const label = c.strings[i * COLUMN.strings + 2];
    const start = c.times[i * COLUMN.times];
    const end = Math.max(c.times[i * COLUMN.times + 1], start);
    const detail = c.details?.[i];
    const ids = this.idsOf(runId);

    out.tag(1, WIRE.delimited); // trace_id
    out.varint(16);
    out.raw(ids.digest, 0, 16);
    out.tag(2, WIRE.delimited); // span_id
    out.varint(8);
    let parent: Buffer | undefined;
    if (type === SPAN_TYPE.run) out.raw(ids.digest, 16, 24);
    else if (type === SPAN_TYPE.execute) {
      out.raw(this.claimSpanId(ids, fence), 0, 8);
      parent = ids.digest;
    } else {
      if (type === SPAN_TYPE.step)
        derivePartSpanId(ids.digest, SPAN_PART.step, fence, seq, attempt, this.scratchId);
      else derivePartSpanId(ids.digest, SPAN_PART.task, fence, seq, -1, this.scratchId);
      out.raw(this.scratchId);
      // Under the claim it was made in; a span from before any claim this process saw hangs off the run.
      parent = fence > 0 ? this.claimSpanId(ids, fence) : ids.digest;
    }
    if (parent) {
      out.tag(4, WIRE.delimited); // parent_span_id
      out.varint(8);
      if (parent === ids.digest) out.raw(parent, 16, 24);
      else out.raw(parent, 0, 8);
    }
    out.raw(this.nameField(type, workflow, label));
    out.tag(6, WIRE.varint); // kind: OTLP's enum is the API's plus one (0 is "unspecified")
    out.varint((type === SPAN_TYPE.task ? SpanKind.PRODUCER : SpanKind.INTERNAL) + 1);
    out.tag(7, WIRE.fixed64); // start_time_unix_nano
    out.epochNanos(start);
    out.tag(8, WIRE.fixed64); // end_time_unix_nano
    out.epochNanos(end);

    // attributes (9), in the order span-writer.ts's attributesOf gives them
    out.raw(ids.runIdField);
    out.raw(this.stringField(ATTR.workflow, workflow));
    if (type === SPAN_TYPE.step) {
      out.raw(this.stringField(ATTR.step, label));
      this.attribute(out, 9, ATTR.seq, seq);
      this.attribute(out, 9, ATTR.attempt, attempt);
      if (detail?.retryDelayMs !== undefined) this.attribute(out, 9, ATTR.retryDelayMs, detail.retryDelayMs);
    } else if (type === SPAN_TYPE.execute) {
      this.attribute(out, 9, ATTR.fence, fence);
      this.attribute(out, 9, ATTR.replay, (attempt & CLAIM_FLAG.replay) !== 0);
      out.raw(this.stringField(ATTR.node, label));
      if (attempt & CLAIM_FLAG.takeoverKnown)
        this.attribute(out, 9, ATTR.takeover, (attempt & CLAIM_FLAG.takeover) !== 0);
    } else if (type === SPAN_TYPE.task) {
      out.raw(this.stringField(ATTR.step, label));
      this.attribute(out, 9, ATTR.seq, seq);
      if (detail?.queue) this.attribute(out, 9, ATTR.queue, detail.queue);
    } else out.raw(this.stringField(ATTR.status, label));
    if (detail?.endedBy) this.attribute(out, 9, ATTR.ended, detail.endedBy);
    const error = detail?.error;
    if (error?.code) this.attribute(out, 9, ATTR.errorCode, error.code);
    out.tag(10, WIRE.varint); // dropped_attributes_count
    out.varint(0);

    if (error) {
      out.tag(11, WIRE.delimited); // events: the exception, as the SDK's recordException writes it
      const event = out.begin();
      out.tag(1, WIRE.fixed64);
      out.epochNanos(end);
      out.tag(2, WIRE.delimited);
      out.string("exception");
      this.attribute(out, 3, ATTR_EXCEPTION_TYPE, error.code ?? error.name);
      this.attribute(out, 3, ATTR_EXCEPTION_MESSAGE, error.message);
      if (error.stack) this.attribute(out, 3, ATTR_EXCEPTION_STACKTRACE, error.stack);
      out.tag(4, WIRE.varint);
      out.varint(0);
      out.end(event);
    }
    out.tag(12, WIRE.varint); // dropped_events_count
    out.varint(0);

    if (type === SPAN_TYPE.execute && attempt & CLAIM_FLAG.resumed) {
      // A claim continuing a run begun earlier (maybe on a node that crashed) links to the run's root.
      out.tag(13, WIRE.delimited);
      const link = out.begin();
      out.tag(1, WIRE.delimited);
      out.varint(16);
      out.raw(ids.digest, 0, 16);
      out.tag(2, WIRE.delimited);
      out.varint(8);
      out.raw(ids.digest, 16, 24);
      this.attribute(out, 4, "dirigent.link", "resumed");
      out.tag(5, WIRE.varint);
      out.varint(0);
      out.tag(6, WIRE.fixed32);
      out.fixed32(SPAN_FLAGS);
      out.end(link);
    }
    out.tag(14, WIRE.varint); // dropped_links_count
    out.varint(0);

    out.tag(15, WIRE.delimited); // status
    const statusField = out.begin();
    if (status === SPAN_STATUS.error && error?.message) {
      out.tag(2, WIRE.delimited);
      out.string(error.message);
    }
    out.tag(3, WIRE.varint);
    out.varint(
      status === SPAN_STATUS.error
        ? SpanStatusCode.ERROR
        : status === SPAN_STATUS.ok
          ? SpanStatusCode.OK
          : SpanStatusCode.UNSET,
    );
    out.end(statusField);
    out.tag(16, WIRE.fixed32); // flags
    out.fixed32(SPAN_FLAGS);
  }

  private idsOf(runId: string): RunIdBytes {
    let ids = this.recent.get(runId);
    if (!ids) {
      ids = {
        digest: runDigestBytes(runId, this.namespace),
        runIdField: this.encodeField(ATTR.runId, runId),
        fence: 0,
        claimSpanId: undefined,
      };
      this.recent.set(runId, ids);
    }
    return ids;
  }

  private claimSpanId(ids: RunIdBytes, fence: number): Buffer {
    if (ids.fence !== fence || !ids.claimSpanId) {
      ids.fence = fence;
      ids.claimSpanId ??= Buffer.allocUnsafe(8);
      derivePartSpanId(ids.digest, SPAN_PART.claim, fence, -1, -1, ids.claimSpanId);
    }
    return ids.claimSpanId;
  }

  /** The Span.name field (5) of a span, encoded once per name. */
  private nameField(type: number, workflow: string, label: string): Buffer {
    const byName = this.names[type];
    const key = type === SPAN_TYPE.run || type === SPAN_TYPE.execute ? workflow : label;
    let field = byName.get(key);
    if (!field) {
      const b = new ProtobufBuffer(key.length + 16);
      b.tag(5, WIRE.delimited);
      b.string(spanName(type, workflow, label));
      field = Buffer.from(b.finish());
      if (byName.size < MAX_CACHED) byName.set(key, field);
    }
    return field;
  }

  /** A string attribute as a whole Span.attributes field (9), encoded once per key and value. */
  private stringField(key: string, value: string): Buffer {
    let byValue = this.stringFields.get(key);
    if (!byValue) this.stringFields.set(key, (byValue = new Map()));
    let field = byValue.get(value);
    if (!field) {
      field = this.encodeField(key, value);
      if (byValue.size < MAX_CACHED) byValue.set(value, field);
    }
    return field;
  }

  private encodeField(key: string, value: string): Buffer {
    const b = new ProtobufBuffer(key.length + value.length * 3 + 16);
    this.attribute(b, 9, key, value);
    return Buffer.from(b.finish());
  }

  /** A KeyValue's tag, length placeholder and key, encoded once per key. */
  private keyOf(key: string): Buffer {
    let encoded = this.keys.get(key);
    if (!encoded) {
      const b = new ProtobufBuffer(key.length + 8);
      b.tag(1, WIRE.delimited);
      b.string(key);
      encoded = Buffer.from(b.finish());
      this.keys.set(key, encoded);
    }
    return encoded;
  }

  /**
   * A KeyValue in field `field`: a string as AnyValue.string_value, an integer as int_value, another
   * number as double_value, a boolean as bool_value (as the SDK's serializer decides; the integers
   * written here are far below 2^53).
   */
  private attribute(out: ProtobufBuffer, field: number, key: string, value: string | number | boolean): void {
    out.tag(field, WIRE.delimited);
    const kv = out.begin();
    out.raw(this.keyOf(key));
    out.tag(2, WIRE.delimited); // KeyValue.value: AnyValue
    const any = out.begin();
    if (typeof value === "string") {
      out.tag(1, WIRE.delimited);
      out.string(value);
    } else if (typeof value === "boolean") {
      out.tag(2, WIRE.varint);
      out.varint(value ? 1 : 0);
    } else if (Number.isSafeInteger(value)) {
      out.tag(3, WIRE.varint);
      out.int64(value);
    } else {
      out.tag(4, WIRE.fixed64);
      out.double(value);
    }
    out.end(any);
    out.end(kv);
  }
}
