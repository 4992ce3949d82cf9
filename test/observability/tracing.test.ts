import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { LocalClient } from "../../src/client/local-client.js";
import { isDirigentError } from "../../src/core/errors.js";
import {
  formatTraceparent,
  parseTraceparent,
  runRootSpanId,
  runSpanId,
  runTraceId,
} from "../../src/observability/trace-context.js";
import { createTracing, type DirigentTracing, type TracingOptions } from "../../src/observability/tracing.js";
import { createEngine } from "../../src/runtime/engine.js";
import { workflow } from "../../src/runtime/workflow.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { deferred, eventually, type Harness, harness, untilStatus } from "../helpers/harness.js";
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
  startServer,
  type TestServer,
} from "./receivers.js";

const SPAN_KIND_PRODUCER = 4;
const STATUS_ERROR = 2;

let receiver: OtlpReceiver;
let echo: TestServer;
let h: Harness | undefined;
const tracings: DirigentTracing[] = [];

function tracing(
  protocol: "http/json" | "http/protobuf",
  serviceName = "orders",
  more: TracingOptions = {},
): DirigentTracing {
  const t = createTracing({ serviceName, exporter: { url: receiver.url, protocol }, batch: false, ...more });
  tracings.push(t);
  return t;
}

function spansOf(traceId: string): ReceivedSpan[] {
  return receiver.spans.filter((s) => s.traceId === traceId);
}

before(async () => {
  receiver = await startOtlpReceiver();
  let calls = 0;
  // A called service that echoes the trace header it received; its first call fails with 503.
  echo = await startServer((req) => {
    calls++;
    if (calls === 1) return { status: 503, body: "try again" };
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ traceparent: req.headers.traceparent ?? null }),
    };
  });
});

afterEach(async () => {
  for (const t of tracings.splice(0)) await t.shutdown();
  await h?.close();
  h = undefined;
});

after(async () => {
  await receiver.close();
  await echo.close();
});

describe("tracing", () => {
  it("writes a run span, a span per claim and per step attempt, and propagates traceparent into HTTP calls", async () => {
    const order = workflow("t-order", async (ctx, url: string) => {
      await ctx.step("reserve", () => "r1");
      const res = await ctx.http(
        "charge",
        { method: "POST", url, body: { amount: 5 } },
        { retry: { initialIntervalMs: 1_000, jitter: 0 } },
      );
      await ctx.step("confirm", () => true);
      return res.body;
    });
    // The engine asks tracing for each call's traceparent (the undici channel is off here).
    const t = tracing("http/json", "orders", { propagateHttp: false });
    h = await harness([order], { traceparent: t.traceparentFor });
    t.attach(h.engine);
    const runId = "order-1";
    await h.client.start("t-order", `${echo.url}/charges`, { runId });
    await untilStatus(h, runId, "waiting"); // the first charge attempt got a 503: backoff
    await h.clock.advance(1_000);
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    await t.forceFlush();

    const traceId = runTraceId(runId);
    assert.equal(t.traceIdOf(runId), traceId);
    const spans = spansOf(traceId);
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const root = byName("run t-order");
    assert.equal(root.length, 1);
    assert.equal(root[0].spanId, runRootSpanId(runId));
    assert.equal(root[0].parentSpanId, "");
    assert.deepEqual(
      { ...root[0].attributes },
      { "dirigent.run_id": runId, "dirigent.workflow": "t-order", "dirigent.run.status": "completed" },
    );
    assert.equal(root[0].serviceName, "orders");
    assert.equal(root[0].encoding, "json");

    // Two claims: before the backoff and after it; both children of the run span.
    const claims = byName("execute t-order");
    assert.equal(claims.length, 2);
    for (const c of claims) assert.equal(c.parentSpanId, root[0].spanId);
    assert.deepEqual(claims.map((c) => c.attributes["dirigent.fence"]).sort(), [1, 2]);
    const [first, second] = [1, 2].map((f) => claims.find((c) => c.attributes["dirigent.fence"] === f)!);
    assert.equal(first.links.length, 0);

    const attempts = byName("step charge").sort(
      (a, b) => Number(a.attributes["dirigent.attempt"]) - Number(b.attributes["dirigent.attempt"]),
    );
    assert.equal(attempts.length, 2);
    assert.deepEqual(
      attempts.map((s) => [
        s.attributes["dirigent.step"],
        s.attributes["dirigent.attempt"],
        s.attributes["dirigent.run_id"],
      ]),
      [
        ["charge", 1, runId],
        ["charge", 2, runId],
      ],
    );
    assert.equal(attempts[0].parentSpanId, first.spanId);
    assert.equal(attempts[0].status.code, STATUS_ERROR);
    assert.equal(attempts[0].attributes["dirigent.retry.delay_ms"], 1_000);
    assert.equal(attempts[1].parentSpanId, second.spanId);
    assert.equal(byName("step reserve")[0].parentSpanId, first.spanId);
    assert.equal(byName("step confirm")[0].parentSpanId, second.spanId);

    // The called service saw each attempt's own span as the parent, in the run's trace.
    const seen = echo.requests.map((r) => parseTraceparent(String(r.headers.traceparent)));
    assert.equal(seen.length, 2);
    assert.deepEqual(
      seen.map((s) => [s?.traceId, s?.spanId]),
      attempts.map((a) => [traceId, a.spanId]),
    );
    assert.deepEqual(run.output, { traceparent: String(echo.requests[1].headers.traceparent) });
    assert.equal(echo.requests[1].headers["idempotency-key"], `${runId}:1`);
  });

  it("continues the same trace when another node resumes a run after a crash, linked to the original (OTLP protobuf)", async () => {
    const gate = deferred<string>();
    const make = (node: string, hold: boolean) =>
      workflow("t-crash", async (ctx) => {
        await ctx.step("prepare", () => node);
        return ctx.step("hold", () => (hold ? gate.promise : `by ${node}`));
      });
    h = await harness([make("A", true)], { leaseMs: 3_000 });
    const tracingA = tracing("http/protobuf", "node-a");
    tracingA.attach(h.engine);
    const runId = "crash-1";
    await h.client.start("t-crash", null, { runId });
    await eventually(async () => (await h!.store.loadJournal(runId)).length === 1, "prepare to be journaled");

    // Node A stalls: its lease runs out (set in the database); node B takes the run over.
    h.store.db.prepare("UPDATE runs SET lease_expires_at = 0 WHERE run_id = ?").run(runId);
    const storeB = new SqliteStore({ path: h.dbPath });
    const engineB = createEngine({
      store: storeB,
      clock: h.clock,
      nodeId: "B",
      workflows: [make("B", false)],
    });
    const tracingB = tracing("http/protobuf", "node-b");
    tracingB.attach(engineB);
    try {
      await engineB.start();
      const run = await new LocalClient(engineB).result(runId);
      assert.equal(run.output, "by B");
      const releasedA = new Promise((resolve) => h!.engine.events.on("run:released", resolve));
      gate.resolve("late"); // A's late write is refused: A lets the run go, its claim ends there
      await releasedA;
      await tracingB.forceFlush();
    } finally {
      await engineB.stop();
      await storeB.close();
    }
    await tracingA.shutdown();

    const traceId = runTraceId(runId);
    const spans = spansOf(traceId);
    const fromA = spans.filter((s) => s.serviceName === "node-a");
    const fromB = spans.filter((s) => s.serviceName === "node-b");
    assert.ok(fromA.length >= 3, `A wrote its claim and attempts (${fromA.map((s) => s.name)})`);
    assert.ok(fromB.length >= 3, `B wrote its claim, attempt and the run span (${fromB.map((s) => s.name)})`);
    assert.ok(spans.every((s) => s.encoding === "protobuf"));
    const root = fromB.find((s) => s.name === "run t-crash")!;
    assert.equal(root.spanId, runRootSpanId(runId));
    const claimA = fromA.find((s) => s.name === "execute t-crash")!;
    const claimB = fromB.find((s) => s.name === "execute t-crash")!;
    assert.equal(claimA.parentSpanId, root.spanId);
    assert.equal(claimB.parentSpanId, root.spanId);
    assert.equal(claimA.attributes["dirigent.span.ended_by"], "write-refused");
    assert.deepEqual(
      [claimA.attributes["dirigent.node"], claimB.attributes["dirigent.node"]],
      ["test-node", "B"],
    );
    assert.equal(claimB.attributes["dirigent.fence"], 2);
    assert.equal(claimB.attributes["dirigent.replay"], true);
    assert.deepEqual(claimB.links, [
      { traceId, spanId: root.spanId, attributes: { "dirigent.link": "resumed" } },
    ]);
    assert.equal(claimA.links.length, 0);
    const holds = spans.filter((s) => s.name === "step hold");
    assert.deepEqual(holds.map((s) => s.serviceName).sort(), ["node-a", "node-b"]);
    assert.equal(holds.find((s) => s.serviceName === "node-b")!.parentSpanId, claimB.spanId);
  });

  it("hands a task's worker a traceparent, so the worker's spans join the run's trace", async () => {
    const order = workflow("t-task", async (ctx) => {
      const sent = await ctx.task<{ sent: boolean }>("notify", { queue: "email", input: { to: "a@b" } });
      return sent;
    });
    const t = tracing("http/json");
    h = await harness([order], { traceparent: t.traceparentFor });
    t.attach(h.engine);
    const runId = "task-run";
    await h.client.start("t-task", null, { runId });
    await untilStatus(h, runId, "waiting");

    // The worker, another service with its own tracer, continues the trace it was handed.
    const [task] = await h.engine.tasks.poll({ queue: "email", workerId: "mailer" });
    const parent = parseTraceparent(task.traceparent!)!;
    assert.equal(parent.traceId, runTraceId(runId));
    const workerProvider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "mailer" }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: receiver.url }))],
    });
    const span = workerProvider
      .getTracer("mailer")
      .startSpan("send email", { kind: SpanKind.CONSUMER }, trace.setSpanContext(ROOT_CONTEXT, parent));
    await h.engine.tasks.complete(task.taskId, task.leaseToken, { sent: true });
    span.end();
    await workerProvider.shutdown();
    assert.deepEqual((await h.client.result(runId)).output, { sent: true });
    await t.forceFlush();

    const spans = spansOf(runTraceId(runId));
    const producer = spans.find((s) => s.name === "task notify")!;
    assert.equal(producer.spanId, parent.spanId);
    assert.equal(producer.kind, SPAN_KIND_PRODUCER);
    assert.equal(producer.attributes["dirigent.task.queue"], "email");
    const claim = spans.find((s) => s.name === "execute t-task" && s.attributes["dirigent.fence"] === 1)!;
    assert.equal(producer.parentSpanId, claim.spanId);
    const worker = spans.find((s) => s.serviceName === "mailer")!;
    assert.equal(worker.name, "send email");
    assert.equal(worker.parentSpanId, producer.spanId);
    assert.ok(
      spans.some((s) => s.name === "run t-task" && s.parentSpanId === ""),
      "the run span closes it",
    );

    // An HTTP call names the attempt making it: its span is derived from the call alone.
    const http = parseTraceparent(
      t.traceparentFor({
        kind: "http",
        runId: "other",
        workflow: "w",
        fence: 2,
        seq: 9,
        name: "x",
        attempt: 3,
      })!,
    )!;
    assert.deepEqual([http.traceId, http.spanId], [runTraceId("other"), runSpanId("other", "s2.9.3")]);
  });

  it("adds traceparent to a step's own HTTP calls that send its Idempotency-Key (undici channel)", async () => {
    const mirror = await startServer((req) => ({
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ traceparent: req.headers.traceparent ?? null }),
    }));
    try {
      const wf = workflow("t-fetch", async (ctx, url: string) =>
        ctx.step("call", async ({ idempotencyKey }) => {
          // Node's global fetch (its bundled undici) and the undici package both publish the channel.
          const res = await fetch(url, { method: "POST", headers: { "idempotency-key": idempotencyKey } });
          return ((await res.json()) as { traceparent: string | null }).traceparent;
        }),
      );
      const t = tracing("http/json");
      h = await harness([wf]); // no engine hook: the channel alone
      t.attach(h.engine);
      const run = await h.client.result(
        (await h.client.start("t-fetch", mirror.url, { runId: "f-1" })).runId,
      );
      await t.forceFlush();
      const step = spansOf(runTraceId("f-1")).find((s) => s.name === "step call")!;
      assert.deepEqual(
        { ...parseTraceparent(run.output as string) },
        { traceId: runTraceId("f-1"), spanId: step.spanId, traceFlags: 1, isRemote: true },
      );
    } finally {
      await mirror.close();
    }
  });
});

describe("trace context", () => {
  it("formats and parses W3C traceparent", () => {
    const ctx = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 };
    const header = formatTraceparent(ctx)!;
    assert.equal(header, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert.deepEqual(
      { ...parseTraceparent(header) },
      { traceId: ctx.traceId, spanId: ctx.spanId, traceFlags: 1, isRemote: true },
    );
    assert.equal(
      formatTraceparent({ ...ctx, traceFlags: 0 }),
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    );
    assert.equal(parseTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"), undefined);
    assert.equal(parseTraceparent("garbage"), undefined);
  });

  it("derives a run's trace and root span ids from its run id (and namespace)", () => {
    assert.match(runTraceId("r-1"), /^[0-9a-f]{32}$/);
    assert.match(runRootSpanId("r-1"), /^[0-9a-f]{16}$/);
    assert.equal(runTraceId("r-1"), runTraceId("r-1"));
    assert.notEqual(runTraceId("r-1"), runTraceId("r-2"));
    assert.notEqual(runTraceId("r-1", "staging"), runTraceId("r-1"));
  });

  it("is off without an exporter, and refuses unknown options", () => {
    const off = createTracing({ serviceName: "x" });
    assert.equal(off.enabled, false);
    assert.equal(
      off.traceparentFor({
        kind: "task",
        runId: "r",
        workflow: "w",
        fence: 1,
        seq: 1,
        name: "n",
        attempt: 0,
      }),
      undefined,
    );
    assert.equal(off.traceIdOf("r"), undefined);
    assert.throws(
      () => createTracing({ exporter: { url: "http://x/v1/traces" }, colour: "red" } as never),
      (e: unknown) => isDirigentError(e) && e.code === "INVALID_OPTIONS" && /colour/.test(e.message),
    );
    assert.throws(
      () => createTracing({ exporter: { url: "http://x/v1/traces", protocol: "grpc" } } as never),
      (e: unknown) => isDirigentError(e) && e.code === "INVALID_OPTIONS",
    );
  });

  it("samples whole runs: with ratio 0 nothing is recorded and the header says not sampled", async () => {
    const t = createTracing({
      exporter: { url: receiver.url, protocol: "http/json" },
      batch: false,
      sampleRatio: 0,
    });
    tracings.push(t);
    const header = t.traceparentFor({
      kind: "task",
      runId: "unsampled",
      workflow: "w",
      fence: 1,
      seq: 1,
      name: "n",
      attempt: 0,
    })!;
    assert.match(header, /-00$/);
    await t.forceFlush();
    assert.equal(spansOf(runTraceId("unsampled")).length, 0);
  });
});
