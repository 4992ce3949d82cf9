// The OTLP exporter of span records: batching as OpenTelemetry's batch processor does, at most two
// requests in flight, a bounded queue whose overflow is counted, and the library transport's retries,
// all against real HTTP servers.
import assert from "node:assert/strict";
import http from "node:http";
import { afterEach, describe, it } from "node:test";
import { OtlpRecordExporter } from "../../src/observability/otlp-record-exporter.js";
import { SPAN_STATUS, SPAN_TYPE, SpanBatch } from "../../src/observability/span-records.js";
import { deferred, eventually } from "../helpers/harness.js";
import { type OtlpReceiver, startOtlpReceiver, startServer } from "./receivers.js";

const open: { close(): Promise<void> }[] = [];
const exporters: OtlpRecordExporter[] = [];

afterEach(async () => {
  for (const e of exporters.splice(0)) await e.shutdown().catch(() => {});
  for (const s of open.splice(0)) await s.close();
});

/** `n` step spans in batches of up to 256, as the engine's thread sends them. */
function batches(n: number, prefix = "r"): SpanBatch[] {
  const out: SpanBatch[] = [];
  let batch = new SpanBatch();
  for (let i = 0; i < n; i++) {
    if (batch.full) {
      out.push(batch);
      batch = new SpanBatch();
    }
    const t = Date.now();
    batch.add({
      type: SPAN_TYPE.step,
      runId: `${prefix}-${Math.floor(i / 3)}`,
      workflow: "wf",
      label: `step-${i % 3}`,
      seq: i % 3,
      fence: 1,
      attempt: 1,
      start: t,
      end: t + 1,
      status: SPAN_STATUS.ok,
    });
  }
  if (batch.count) out.push(batch);
  return out;
}

function exporter(url: string, batch: ConstructorParameters<typeof OtlpRecordExporter>[2] = {}) {
  const e = new OtlpRecordExporter(
    { url },
    { resource: { "service.name": "test" }, scopeName: "dirigent" },
    batch,
  );
  exporters.push(e);
  return e;
}

describe("OtlpRecordExporter", () => {
  it("sends full batches at once and the rest on forceFlush, every span decoded by the receiver", async () => {
    const receiver: OtlpReceiver = await startOtlpReceiver();
    open.push(receiver);
    const e = exporter(receiver.url, { maxExportBatchSize: 100, scheduleDelayMs: 60_000 });
    for (const b of batches(1_050)) e.writeColumns(b);
    // Ten full batches go without waiting for the (one-minute) schedule delay.
    await eventually(() => receiver.spans.length === 1_000, "ten full batches");
    await e.forceFlush();
    assert.equal(receiver.spans.length, 1_050);
    assert.deepEqual(e.counts, { exported: 1_050, failed: 0, dropped: 0 });
    assert.equal(new Set(receiver.spans.map((s) => s.spanId)).size, 1_050, "every span id distinct");
    assert.ok(receiver.spans.every((s) => s.serviceName === "test" && s.name.startsWith("step step-")));
  });

  it("sends a partial batch after the schedule delay", async () => {
    const receiver = await startOtlpReceiver();
    open.push(receiver);
    const e = exporter(receiver.url, { scheduleDelayMs: 50 });
    for (const b of batches(7)) e.writeColumns(b);
    assert.equal(receiver.spans.length, 0);
    await eventually(() => receiver.spans.length === 7, "the partial batch");
  });

  it("holds at most two requests in flight for a slow collector, and counts what its queue drops", async () => {
    let concurrent = 0;
    let most = 0;
    const release = deferred<void>();
    // A collector that reads each request and answers only when released.
    const gate = http.createServer((req, res) => {
      concurrent++;
      most = Math.max(most, concurrent);
      req.resume();
      req.on("end", () => {
        release.promise.then(() => {
          concurrent--;
          res.writeHead(200).end();
        });
      });
    });
    await new Promise<void>((resolve) => gate.listen(0, "127.0.0.1", resolve));
    open.push({ close: () => new Promise<void>((resolve) => gate.close(() => resolve())) });
    gate.on("connection", (socket) => socket.unref());
    const url = `http://127.0.0.1:${(gate.address() as { port: number }).port}/v1/traces`;

    const e = exporter(url, { maxExportBatchSize: 100, maxQueueSize: 500 });
    for (const b of batches(2_000)) e.writeColumns(b);
    await eventually(() => most === 2, "two requests in flight");
    // Two batches of 100 left the queue; of the rest 500 wait in it and 1,300 were dropped.
    assert.equal(e.counts.dropped, 1_300);
    release.resolve();
    await e.forceFlush();
    assert.deepEqual(e.counts, { exported: 700, failed: 0, dropped: 1_300 });
    assert.equal(most, 2, "never more than two requests at once");
  });

  it("retries a 503 through the OTLP transport and counts a collector's 400 as failed", async () => {
    let calls = 0;
    const flaky = await startServer(() =>
      ++calls === 1 ? { status: 503, headers: { "retry-after": "0" } } : { status: 200 },
    );
    open.push(flaky);
    const e = exporter(`${flaky.url}/v1/traces`, { maxExportBatchSize: 10 });
    for (const b of batches(10)) e.writeColumns(b);
    await e.forceFlush();
    assert.equal(calls, 2, "one retry");
    assert.deepEqual(e.counts, { exported: 10, failed: 0, dropped: 0 });

    const refusing = await startServer(() => ({ status: 400, body: "bad request" }));
    open.push(refusing);
    const f = exporter(`${refusing.url}/v1/traces`, { maxExportBatchSize: 10 });
    for (const b of batches(25)) f.writeColumns(b);
    await f.forceFlush();
    assert.deepEqual(f.counts, { exported: 0, failed: 25, dropped: 0 });
    assert.equal(refusing.requests.length, 3);
  });

  it("drops (counted) what is written after shutdown", async () => {
    const receiver = await startOtlpReceiver();
    open.push(receiver);
    const e = exporter(receiver.url);
    for (const b of batches(5)) e.writeColumns(b);
    await e.shutdown();
    for (const b of batches(3, "late")) e.writeColumns(b);
    assert.deepEqual(e.counts, { exported: 5, failed: 0, dropped: 3 });
    assert.equal(receiver.spans.length, 5);
  });
});
