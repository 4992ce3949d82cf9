import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { TerminalError } from "../../src/core/errors.js";
import { attachLogging, createLogger, redactDeep } from "../../src/observability/logs.js";
import { runTraceId } from "../../src/observability/trace-context.js";
import { createTracing, type DirigentTracing } from "../../src/observability/tracing.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

/** A destination that keeps every line written to it. */
function memory() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

/** An exporter that drops spans: tracing on, no network. */
const discard: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};

let h: Harness | undefined;
let tracing: DirigentTracing | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  await h?.close();
  h = undefined;
});

const payment = workflow("l-pay", async (ctx) => {
  await ctx.step("auth", () => "ok");
  return ctx.step(
    "charge",
    ({ attempt }) => {
      if (attempt === 1) {
        const err = new Error("card declined");
        Object.assign(err, {
          details: {
            card: { number: "4111", cvc: "123" },
            headers: { authorization: "Bearer sk_live" },
            token: "t0k",
          },
        });
        throw err;
      }
      throw new TerminalError("gateway refused", { details: { password: "hunter2", iban: "NL00BANK0123" } });
    },
    { retry: { maxAttempts: 2, initialIntervalMs: 10, jitter: 0 } },
  );
});

describe("logs", () => {
  it("writes JSON lines with run id, step, attempt and trace ids, secrets and configured fields redacted", async () => {
    const out = memory();
    const logger = createLogger({
      level: "debug",
      destination: out.stream,
      redact: ["cvc", "iban", "card.number"],
    });
    h = await harness([payment]);
    tracing = createTracing({ exporter: discard, batch: false });
    tracing.attach(h.engine);
    attachLogging(h.engine, logger, { tracing });
    const runId = "pay-1";
    await h.client.start("l-pay", null, { runId });
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(10);
    await untilStatus(h, runId, "failed");

    const records = out.lines.map((l) => JSON.parse(l));
    const traceId = runTraceId(runId);
    const msgs = records.map((r) => r.msg);
    assert.deepEqual(
      msgs.filter((m) => m !== "run claimed" && m !== "run suspended"),
      [
        "run created",
        "step attempt started",
        "step completed",
        "step attempt started",
        "step attempt failed; retrying",
        "step attempt started",
        "step failed",
        "run failed",
      ],
    );
    for (const r of records) {
      assert.equal(r.runId, runId);
      assert.equal(r.trace_id, traceId);
      assert.equal(typeof r.time, "string");
    }
    const retrying = records.find((r) => r.msg === "step attempt failed; retrying");
    assert.equal(retrying.level, 40);
    assert.equal(retrying.step, "charge");
    assert.equal(retrying.attempt, 1);
    assert.equal(retrying.seq, 1);
    assert.match(retrying.span_id, /^[0-9a-f]{16}$/);
    const started = records.filter((r) => r.msg === "step attempt started" && r.step === "charge");
    assert.equal(started[0].span_id, retrying.span_id, "the attempt's lines share its span id");
    assert.notEqual(started[1].span_id, retrying.span_id, "each attempt has its own span");
    assert.deepEqual(retrying.error.details, {
      card: { number: "4111", cvc: "[Redacted]" },
      headers: { authorization: "[Redacted]" },
      token: "[Redacted]",
    });
    const failed = records.find((r) => r.msg === "step failed");
    assert.equal(failed.attempt, 2);
    assert.deepEqual(failed.error.details, { password: "[Redacted]", iban: "[Redacted]" });
    const run = records.find((r) => r.msg === "run failed");
    assert.equal(run.workflow, "l-pay");
    assert.equal(run.status, "failed");
    assert.equal(run.durationMs, 10, "creation to failure on the test clock: the 10 ms backoff");
    const text = out.lines.join("\n");
    for (const secret of ["hunter2", "sk_live", "t0k", "NL00BANK0123"])
      assert.ok(!text.includes(secret), secret);
    // The CVC as a value: the digits alone also turn up in timestamps and ids.
    assert.ok(!text.includes('"123"'), "the CVC");
  });

  it("redacts configured paths in fields logged directly", () => {
    const out = memory();
    const logger = createLogger({ destination: out.stream, redact: ["card.number"] });
    logger.info(
      {
        card: { number: "4111", holder: "A" },
        password: "p",
        headers: { authorization: "Bearer x", accept: "*/*" },
        err: Object.assign(new Error("boom"), { details: { apiKey: "k" } }),
      },
      "hello",
    );
    const r = JSON.parse(out.lines[0]);
    assert.deepEqual(r.card, { number: "[Redacted]", holder: "A" });
    assert.equal(r.password, "[Redacted]");
    assert.deepEqual(r.headers, { authorization: "[Redacted]", accept: "*/*" });
    assert.equal(r.err.message, "boom");
    assert.deepEqual(r.err.details, { apiKey: "[Redacted]" });
  });

  it("is human-readable in dev (pretty), still with the run id and step", async () => {
    const out = memory();
    const logger = createLogger({ pretty: true, level: "debug", destination: out.stream });
    h = await harness([payment]);
    attachLogging(h.engine, logger);
    await h.client.start("l-pay", null, { runId: "pay-2" });
    await untilStatus(h, "pay-2", "waiting");
    const text = out.lines.join("\n");
    assert.ok(!out.lines.some((l) => l.trimStart().startsWith("{")), "no JSON lines");
    assert.match(text, /INFO.*l-pay pay-2 run created/);
    assert.match(text, /WARN.*pay-2 charge#1 step attempt failed; retrying/);
  });

  it("cuts cycles when redacting", () => {
    const a: Record<string, unknown> = { token: "x" };
    a.self = a;
    assert.deepEqual(redactDeep(a, new Set(["token"])), { token: "[Redacted]", self: "[Circular]" });
  });
});
