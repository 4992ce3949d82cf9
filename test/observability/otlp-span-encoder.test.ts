import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExportResultCode } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { ExportConfig } from "../../src/observability/export-config.js";
import { OtlpSpanEncoder } from "../../src/observability/otlp-span-encoder.js";
import { ProtobufBuffer } from "../../src/observability/protobuf-buffer.js";
import { resourceAttributes, SCOPE_NAME } from "../../src/observability/span-attributes.js";
import {
  CLAIM_FLAG,
  SPAN_STATUS,
  SPAN_TYPE,
  SpanBatch,
  type SpanRecord,
} from "../../src/observability/span-records.js";
import { SpanWriter } from "../../src/observability/span-writer.js";
import {
  derivePartSpanId,
  deriveSpanId,
  runDigestBytes,
  runRootSpanId,
  runSpanId,
  runTraceId,
  SPAN_PART,
} from "../../src/observability/trace-context.js";

const T0 = Date.UTC(2026, 11, 5, 10, 30, 0) + 0.123456789;

/** Every shape of record the engine's thread writes, with the values that stress the encoding. */
function records(): SpanRecord[] {
  const base = {
    runId: "order-1",
    workflow: "checkout",
    seq: 0,
    fence: 0,
    attempt: 0,
    status: SPAN_STATUS.ok,
  };
  const longStack = `Error: boom\n${"    at frame (file.ts:1:1)\n".repeat(700)}`; // > 16 KiB: 3-byte lengths
  return [
    { ...base, type: SPAN_TYPE.run, label: "completed", start: T0, end: T0 + 42.5 },
    {
      ...base,
      type: SPAN_TYPE.execute,
      label: "node-a",
      fence: 3,
      attempt: CLAIM_FLAG.replay | CLAIM_FLAG.takeoverKnown | CLAIM_FLAG.takeover | CLAIM_FLAG.resumed,
      start: T0 + 1,
      end: T0 + 40,
      status: SPAN_STATUS.unset,
    },
    {
      ...base,
      type: SPAN_TYPE.execute,
      label: "node-b",
      fence: 4,
      attempt: CLAIM_FLAG.takeoverKnown,
      start: T0 + 2,
      end: T0 + 3,
    },
    {
      ...base,
      type: SPAN_TYPE.step,
      label: "charge",
      seq: 1,
      fence: 3,
      attempt: 1,
      start: T0 + 2,
      end: T0 + 9.75,
    },
    {
      ...base,
      type: SPAN_TYPE.step,
      label: "ship",
      seq: 2,
      fence: 3,
      attempt: 2,
      start: T0 + 10,
      end: T0 + 9, // ends "before" it starts (clock step): written as ending at its start
      status: SPAN_STATUS.error,
      detail: {
        error: { name: "HttpError", message: "503 from carrier", code: "HTTP_STATUS", stack: longStack },
        retryDelayMs: 250,
      },
    },
    {
      ...base,
      type: SPAN_TYPE.step,
      label: "zählen ✓",
      seq: 3,
      fence: 0,
      attempt: 1,
      start: T0 + 11,
      end: T0 + 12,
      status: SPAN_STATUS.error,
      detail: { error: { name: "TypeError", message: "" }, retryDelayMs: 12.5, endedBy: "superseded" },
    },
    {
      ...base,
      type: SPAN_TYPE.task,
      label: "pack",
      seq: 4,
      fence: 3,
      start: T0 + 13,
      end: T0 + 20,
      status: SPAN_STATUS.unset,
      detail: { queue: "warehouse", endedBy: "shutdown" },
    },
    {
      ...base,
      runId: "order-2",
      workflow: "retour-ü",
      type: SPAN_TYPE.run,
      label: "failed",
      start: T0 + 100,
      end: T0 + 100,
      status: SPAN_STATUS.error,
      detail: { error: { name: "Error", message: "x".repeat(200), code: "STEP_FAILED" } },
    },
  ];
}

/** The spans SpanWriter (OpenTelemetry's span objects) makes of `input`. */
async function sdkSpans(config: ExportConfig, input: SpanRecord[]): Promise<ReadableSpan[]> {
  const spans: ReadableSpan[] = [];
  const capture: SpanExporter = {
    export(batch, done) {
      spans.push(...batch);
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
  };
  const writer = new SpanWriter({ ...config, exporter: capture, batch: false });
  for (const r of input) writer.write(r);
  await writer.forceFlush();
  return spans;
}

function encode(config: ExportConfig, input: SpanRecord[]): Buffer {
  const encoder = new OtlpSpanEncoder({
    resource: resourceAttributes(config),
    scopeName: SCOPE_NAME,
    traceNamespace: config.traceNamespace,
  });
  // Two batches, the second split in two slices, as the exporter cuts requests.
  const first = new SpanBatch();
  const second = new SpanBatch();
  for (const [i, r] of input.entries()) (i < 3 ? first : second).add(r);
  const cut = Math.min(2, second.count);
  return encoder.encode([
    { columns: first, from: 0, to: first.count },
    { columns: second, from: 0, to: cut },
    { columns: second, from: cut, to: second.count },
  ]);
}

describe("OtlpSpanEncoder", () => {
  it("writes the same bytes as OpenTelemetry's protobuf serializer, for every kind of span", async () => {
    const config: ExportConfig = { exporter: "console", serviceName: "orders", serviceVersion: "1.2.3" };
    const input = records();
    const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest(await sdkSpans(config, input))!);
    const actual = encode(config, input);
    assert.ok(expected.length > 16_384, "the request is large enough to need 3-byte lengths");
    assert.equal(actual.length, expected.length);
    assert.ok(actual.equals(expected), "byte-identical request bodies");
  });

  it("agrees with a namespace, resource attributes and a service name given both ways", async () => {
    const config: ExportConfig = {
      exporter: "console",
      serviceName: "orders",
      traceNamespace: "eu-west",
      resourceAttributes: { "deployment.environment": "prod", "service.name": "overridden" },
    };
    const input = records().slice(0, 4);
    const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest(await sdkSpans(config, input))!);
    assert.ok(encode(config, input).equals(expected));
  });

  it("uses the run-derived ids the engine's thread puts in traceparent headers", () => {
    // The same ids as hex, from trace-context.ts: the encoder's bytes must spell them.
    const body = encode({ exporter: "console" }, records().slice(0, 4)).toString("hex");
    assert.ok(body.includes(runTraceId("order-1")));
    assert.ok(body.includes(runRootSpanId("order-1")));
    assert.ok(body.includes(runSpanId("order-1", "c3")));
    assert.ok(body.includes(runSpanId("order-1", "s3.1.1")));
  });

  it("derives a span's id from numbers as from its part string, multi-digit numbers included", () => {
    const digest = runDigestBytes("order-7");
    const fromString = Buffer.alloc(8);
    const fromNumbers = Buffer.alloc(8);
    for (const fence of [0, 1, 9, 10, 123]) {
      for (const seq of [0, 7, 10, 99, 100, 4_321]) {
        for (const attempt of [0, 1, 12]) {
          deriveSpanId(digest, `s${fence}.${seq}.${attempt}`, fromString);
          derivePartSpanId(digest, SPAN_PART.step, fence, seq, attempt, fromNumbers);
          assert.ok(fromNumbers.equals(fromString), `s${fence}.${seq}.${attempt}`);
        }
        deriveSpanId(digest, `t${fence}.${seq}`, fromString);
        derivePartSpanId(digest, SPAN_PART.task, fence, seq, -1, fromNumbers);
        assert.ok(fromNumbers.equals(fromString), `t${fence}.${seq}`);
      }
      deriveSpanId(digest, `c${fence}`, fromString);
      derivePartSpanId(digest, SPAN_PART.claim, fence, -1, -1, fromNumbers);
      assert.ok(fromNumbers.equals(fromString), `c${fence}`);
    }
  });

  it("encodes names past its cache of encoded names the same as those kept", () => {
    // Step names past the cache's bound (a step named after a loop index) are encoded each time.
    const step = (label: string): SpanRecord => ({
      type: SPAN_TYPE.step,
      runId: "loop-1",
      workflow: "loop",
      label,
      seq: 1,
      fence: 1,
      attempt: 1,
      start: T0,
      end: T0 + 1,
      status: SPAN_STATUS.ok,
    });
    const config: ExportConfig = { exporter: "console" };
    const fresh = encode(config, [step("item-9999")]);
    const encoder = new OtlpSpanEncoder({ resource: resourceAttributes(config), scopeName: SCOPE_NAME });
    const batch = new SpanBatch();
    for (let i = 0; i < 5_000; i++) {
      batch.add(step(`item-${i}`));
      if (batch.full) {
        encoder.encode([{ columns: batch, from: 0, to: batch.count }]);
        batch.count = 0;
        batch.strings.length = 0;
      }
    }
    const once = new SpanBatch();
    once.add(step("item-9999"));
    assert.ok(encoder.encode([{ columns: once, from: 0, to: 1 }]).equals(fresh));
  });
});

describe("ProtobufBuffer", () => {
  it("encodes varints, negative int64 and lengths that outgrow their reserved byte", () => {
    const b = new ProtobufBuffer(64);
    b.varint(300);
    b.int64(-1);
    const start = b.begin();
    b.raw(Buffer.alloc(200, 7));
    b.end(start);
    const out = b.finish();
    assert.deepEqual(
      [...out.subarray(0, 12)],
      [0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    );
    assert.deepEqual([...out.subarray(12, 14)], [0xc8, 0x01], "200 as a 2-byte length");
    assert.equal(out.length, 14 + 200);
    assert.ok(
      out.subarray(14).every((v) => v === 7),
      "content moved intact",
    );
  });

  it("writes epoch times exactly, beyond 2^53 nanoseconds", () => {
    const ms = 1_764_930_600_123.456; // the double nearest: .456055 ms
    const b = new ProtobufBuffer(16);
    b.epochNanos(ms);
    const nanos = b.finish().readBigUInt64LE(0);
    assert.equal(nanos, 1_764_930_600n * 1_000_000_000n + BigInt(Math.round((ms % 1000) * 1e6)));
    assert.equal(nanos / 1000n, 1_764_930_600_123_456n);
  });
});
