import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { TerminalError } from "../../src/core/errors.js";
import { createLogger } from "../../src/observability/logs.js";
import { attachObservability, type Observability } from "../../src/observability/observability.js";
import { runTraceId } from "../../src/observability/trace-context.js";
import { createTracing } from "../../src/observability/tracing.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";
import { type OtlpReceiver, parsePrometheus, sample, startOtlpReceiver } from "./receivers.js";

let h: Harness | undefined;
let obs: Observability | undefined;
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await h?.engine.stop();
  await obs?.close();
  await h?.close();
  await receiver?.close();
  h = undefined;
  obs = undefined;
  receiver = undefined;
});

describe("attachObservability", () => {
  it("wires metrics, tracing, logs and alerts to one engine, and closes them", async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    const wf = workflow("o-fail", async (ctx) =>
      ctx.step("s", () => {
        throw new TerminalError("nope");
      }),
    );
    h = await harness([wf]);
    receiver = await startOtlpReceiver();
    const tracing = createTracing({ exporter: { url: receiver.url, protocol: "http/json" }, batch: false });
    obs = attachObservability(h.engine, {
      tracing,
      logger: createLogger({ destination: stream }),
      alerts: { rules: [{ name: "failed", kind: "run_failed" }] },
    });
    await h.client.start("o-fail", null, { runId: "o-1" });
    await untilStatus(h, "o-1", "failed");
    await obs.alerts!.idle();

    const samples = parsePrometheus(await obs.metrics!.metricsText());
    assert.equal(
      sample(samples, "dirigent_runs_finished_total", { workflow: "o-fail", status: "failed" }),
      1,
    );
    assert.equal(sample(samples, "dirigent_alerts_firing", { rule: "failed", severity: "warning" }), 1);
    assert.deepEqual(
      obs.alerts!.list().active.map((a) => a.subject),
      ["o-1"],
    );
    // Spans the tracing exported so far (the run's span and its claim's), counted at scrape time.
    await tracing.forceFlush();
    const later = parsePrometheus(await obs.metrics!.metricsText());
    assert.equal(
      sample(later, "dirigent_trace_spans_total", { outcome: "exported" }),
      tracing.stats().exported,
    );
    assert.ok(tracing.stats().exported >= 3, `exported ${tracing.stats().exported}`);
    assert.equal(sample(later, "dirigent_trace_spans_total", { outcome: "dropped" }), 0);
    const failed = lines.map((l) => JSON.parse(l)).find((r) => r.msg === "run failed");
    assert.equal(failed.trace_id, runTraceId("o-1"));

    await h.engine.stop();
    await obs.close();
    const root = receiver.spans.find((s) => s.name === "run o-fail");
    assert.equal(root?.traceId, runTraceId("o-1"));
    assert.equal(root?.status.code, 2);
  });
});
