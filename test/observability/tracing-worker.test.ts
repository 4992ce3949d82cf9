// The tracing worker thread: spans recorded by the engine's thread are built and exported there, the
// hand-over is bounded, and a program that never shuts tracing down still exits.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { runSpanId, runTraceId } from "../../src/observability/trace-context.js";
import { createTracing, type DirigentTracing } from "../../src/observability/tracing.js";
import { workflow } from "../../src/runtime/workflow.js";
import { deferred, eventually, type Harness, harness } from "../helpers/harness.js";
import { type OtlpReceiver, startOtlpReceiver } from "./receivers.js";

let receiver: OtlpReceiver;
let h: Harness | undefined;
const tracings: DirigentTracing[] = [];

before(async () => {
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  for (const t of tracings.splice(0)) await t.shutdown();
  await h?.close();
  h = undefined;
});

after(async () => {
  await receiver.close();
});

const TRACING_MODULE = pathToFileURL(join(import.meta.dirname, "../../src/observability/tracing.ts")).href;

describe("tracing worker", () => {
  it("exports every span of a batch of runs from the worker, counted in stats, with the ids the engine derives", async () => {
    const twoSteps = workflow("tw-two", async (ctx, n: number) => {
      const a = await ctx.step("a", () => n + 1);
      return ctx.step("b", () => a * 2);
    });
    // Default batching (OpenTelemetry's batch processor), protobuf: the set-up a server gets from OTEL_*.
    const t = createTracing({ serviceName: "tw", exporter: { url: receiver.url } });
    tracings.push(t);
    h = await harness([twoSteps]);
    t.attach(h.engine);
    const runIds = Array.from({ length: 30 }, (_, i) => `tw-${i}`);
    await Promise.all(runIds.map((runId, i) => h!.client.start("tw-two", i, { runId })));
    for (const runId of runIds) assert.equal((await h.client.result(runId)).status, "completed");
    await t.forceFlush();

    // Per run: the run, one claim, two attempts.
    assert.deepEqual(t.stats(), { recorded: 120, dropped: 0, exported: 120, failed: 0 });
    for (const runId of runIds) {
      const spans = receiver.spans.filter((s) => s.traceId === runTraceId(runId));
      assert.deepEqual(spans.map((s) => s.name).sort(), ["execute tw-two", "run tw-two", "step a", "step b"]);
      const claim = spans.find((s) => s.name === "execute tw-two")!;
      assert.equal(claim.spanId, runSpanId(runId, "c1"));
      const a = spans.find((s) => s.name === "step a")!;
      assert.equal(a.attributes["dirigent.seq"], 0, "the first step has seq 0");
      assert.equal(a.spanId, runSpanId(runId, "s1.0.1"));
      assert.equal(a.parentSpanId, claim.spanId);
      assert.equal(a.serviceName, "tw");
      assert.equal(a.encoding, "protobuf");
    }
  });

  it("ends a run's open spans when its lease is lost here, marked lease-lost", async () => {
    const gate = deferred<void>();
    const hangs = workflow("tw-hang", async (ctx) => {
      await ctx.step("wait", () => gate.promise);
    });
    const t = createTracing({ exporter: { url: receiver.url }, batch: false });
    tracings.push(t);
    h = await harness([hangs]);
    t.attach(h.engine);
    await h.client.start("tw-hang", null, { runId: "tw-lost" });
    await eventually(() => t.spanIdOf("tw-lost", 0) !== undefined, "the attempt to start");
    // Another node took the run over (its fence moved on): the next renewal is refused and this node
    // gives the run up (test/runtime/self-fencing.test.ts has the whole story).
    h.store.db.prepare("UPDATE runs SET fence = fence + 1 WHERE run_id = ?").run("tw-lost");
    const lost = new Promise((resolve) => h!.engine.events.on("run:lease-lost", resolve));
    await h.clock.advance(h.engine.leaseMs);
    await lost;
    await t.forceFlush();
    const spans = receiver.spans.filter((s) => s.traceId === runTraceId("tw-lost"));
    assert.deepEqual(spans.map((s) => [s.name, s.attributes["dirigent.span.ended_by"]]).sort(), [
      ["execute tw-hang", "lease-lost"],
      ["step wait", "lease-lost"],
    ]);
    gate.resolve();
  });

  it("ends the open spans of runs still executing when tracing shuts down, marked shutdown", async () => {
    const gate = deferred<void>();
    const hangs = workflow("tw-hang", async (ctx) => {
      await ctx.step("wait", () => gate.promise);
    });
    const t = createTracing({ exporter: { url: receiver.url }, batch: false });
    h = await harness([hangs]);
    t.attach(h.engine);
    await h.client.start("tw-hang", null, { runId: "tw-open" });
    await eventually(() => t.spanIdOf("tw-open", 0) !== undefined, "the attempt to start");
    await t.shutdown();
    const spans = receiver.spans.filter((s) => s.traceId === runTraceId("tw-open"));
    assert.deepEqual(spans.map((s) => [s.name, s.attributes["dirigent.span.ended_by"]]).sort(), [
      ["execute tw-hang", "shutdown"],
      ["step wait", "shutdown"],
    ]);
    assert.equal(spans.find((s) => s.name === "step wait")!.spanId, runSpanId("tw-open", "s1.0.1"));
    gate.resolve();
  });

  it("drops spans beyond the queue and counts them, exporting the rest", async () => {
    const t = createTracing({ exporter: { url: receiver.url }, batch: { maxQueueSize: 10 } });
    tracings.push(t);
    // 25 tasks queued in one turn of the event loop: each is a PRODUCER span handed over at its end.
    for (let i = 0; i < 25; i++) {
      t.traceparentFor({
        kind: "task",
        runId: "tw-queue",
        workflow: "w",
        fence: 1,
        seq: i + 1,
        name: "n",
        attempt: 0,
      });
    }
    await t.forceFlush();
    assert.deepEqual(t.stats(), { recorded: 10, dropped: 15, exported: 10, failed: 0 });
    assert.equal(receiver.spans.filter((s) => s.traceId === runTraceId("tw-queue")).length, 10);
  });

  it("counts spans the collector refused as failed", async () => {
    const errors: Error[] = [];
    const t = createTracing({
      exporter: { url: receiver.url.replace("/v1/traces", "/nowhere"), timeoutMs: 2_000 },
      batch: false,
      onError: (e) => errors.push(e),
    });
    tracings.push(t);
    t.traceparentFor({
      kind: "task",
      runId: "tw-refused",
      workflow: "w",
      fence: 1,
      seq: 1,
      name: "n",
      attempt: 0,
    });
    await t.forceFlush();
    const stats = t.stats();
    assert.equal(stats.recorded, 1);
    assert.equal(stats.exported, 0);
    assert.equal(stats.failed, 1);
  });

  it("does not keep a program alive that never shuts tracing down", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dirigent-tw-"));
    try {
      const script = join(dir, "main.ts");
      writeFileSync(
        script,
        `import { createTracing } from ${JSON.stringify(TRACING_MODULE)};
         const t = createTracing({ exporter: { url: ${JSON.stringify(receiver.url)} } });
         t.traceparentFor({ kind: "task", runId: "tw-exit", workflow: "w", fence: 1, seq: 1, name: "n", attempt: 0 });
         console.log("started");`,
      );
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        stdio: ["ignore", "pipe", "inherit"],
        cwd: join(import.meta.dirname, "../.."),
      });
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve(null);
        }, 20_000);
        child.on("exit", (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      assert.equal(out.trim(), "started");
      assert.equal(code, 0, "the program should exit on its own, not be killed after 20 s");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
