import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { RetryableError, TerminalError } from "../../src/core/errors.js";
import { workflow } from "../../src/runtime/workflow.js";
import { deferred, type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

describe("steps", () => {
  it("runs steps in order, records each once, and stores the output", async () => {
    const calls: string[] = [];
    const wf = workflow("three", async (ctx, n: number) => {
      const a = await ctx.step("a", () => (calls.push("a"), n + 1));
      const b = await ctx.step("b", () => (calls.push("b"), a * 2));
      const c = await ctx.step("c", async () => (calls.push("c"), b + 1));
      return { a, b, c };
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("three", 5);
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    assert.deepEqual(run.output, { a: 6, b: 12, c: 13 });
    assert.deepEqual(calls, ["a", "b", "c"]);
    const hist = await h.client.history(runId);
    assert.deepEqual(
      hist.journal.map((e) => [e.seq, e.kind, e.name, e.status, e.attempt]),
      [
        [0, "step", "a", "completed", 1],
        [1, "step", "b", "completed", 1],
        [2, "step", "c", "completed", 1],
      ],
    );
    assert.deepEqual(
      hist.events.map((e) => e.type),
      ["run:created", "run:started", "step:completed", "step:completed", "step:completed", "run:finished"],
    );
  });

  it("hands each attempt its number, a stable idempotency key and an abort signal", async () => {
    const seen: { attempt: number; key: string; signal: boolean }[] = [];
    const wf = workflow("keys", async (ctx) => {
      await ctx.step("first", () => 1);
      return ctx.step(
        "flaky",
        ({ attempt, idempotencyKey, signal }) => {
          seen.push({ attempt, key: idempotencyKey, signal: signal instanceof AbortSignal });
          if (attempt < 3) throw new Error(`boom ${attempt}`);
          return "ok";
        },
        { retry: { maxAttempts: 3, initialIntervalMs: 1_000, jitter: 0 } },
      );
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("keys", null, { runId: "r-keys" });
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(1_000);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(2_000);
    const run = await h.client.result(runId);
    assert.equal(run.output, "ok");
    assert.deepEqual(seen, [
      { attempt: 1, key: "r-keys:1", signal: true },
      { attempt: 2, key: "r-keys:1", signal: true },
      { attempt: 3, key: "r-keys:1", signal: true },
    ]);
    const hist = await h.client.history(runId);
    assert.deepEqual(
      hist.attempts.map((a) => [a.seq, a.attempt, a.error.message]),
      [
        [1, 1, "boom 1"],
        [1, 2, "boom 2"],
      ],
    );
    assert.equal(hist.journal[1].attempt, 3);
  });

  it("backs off exponentially and never retries before the delay", async () => {
    let attempts = 0;
    const wf = workflow("backoff", async (ctx) =>
      ctx.step(
        "s",
        () => {
          attempts++;
          throw new Error("down");
        },
        { retry: { maxAttempts: 4, initialIntervalMs: 100, backoffCoefficient: 3, jitter: 0 } },
      ),
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("backoff", null);
    await untilStatus(h, runId, "waiting");
    assert.equal(attempts, 1);
    await h.clock.advance(99);
    assert.equal(attempts, 1, "no retry before 100 ms");
    await h.clock.advance(1);
    await untilStatus(h, runId, "waiting");
    assert.equal(attempts, 2);
    await h.clock.advance(299);
    assert.equal(attempts, 2, "no retry before 300 ms");
    await h.clock.advance(1);
    await untilStatus(h, runId, "waiting");
    assert.equal(attempts, 3);
    await h.clock.advance(900);
    const run = await h.client.result(runId);
    assert.equal(attempts, 4);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "STEP_FAILED");
    assert.match(run.error!.message, /step "s" failed: down/);
  });

  it("stops at a TerminalError and lets workflow code catch a failed step", async () => {
    let attempts = 0;
    const wf = workflow("terminal", async (ctx) => {
      try {
        await ctx.step("pay", () => {
          attempts++;
          throw new TerminalError("card declined", { code: "DECLINED" });
        });
      } catch (err) {
        return {
          caught: (err as Error).message,
          code: (err as any).code,
          cause: (err as any).details.cause.code,
        };
      }
      return "unreachable";
    });
    h = await harness([wf]);
    const run = await h.client.result((await h.client.start("terminal", null)).runId);
    assert.equal(attempts, 1);
    assert.deepEqual(run.output, {
      caught: 'step "pay" failed: card declined',
      code: "STEP_FAILED",
      cause: "DECLINED",
    });
  });

  it("honours a RetryableError's retry-after", async () => {
    let attempts = 0;
    const wf = workflow("retry-after", async (ctx) =>
      ctx.step(
        "s",
        () => {
          if (++attempts === 1) throw new RetryableError("rate limited", { retryAfterMs: 30_000 });
          return attempts;
        },
        { retry: { initialIntervalMs: 10, jitter: 0 } },
      ),
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("retry-after", null);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(29_999);
    assert.equal(attempts, 1);
    await h.clock.advance(1);
    assert.equal((await h.client.result(runId)).output, 2);
  });

  it("times out an attempt: the signal aborts and the attempt counts as failed", async () => {
    let aborted = 0;
    const wf = workflow("timeout", async (ctx) =>
      ctx.step(
        "slow",
        ({ attempt, signal }) => {
          if (attempt === 2) return "second";
          signal.addEventListener("abort", () => aborted++);
          return new Promise(() => {});
        },
        { timeoutMs: 5_000, retry: { initialIntervalMs: 1_000, jitter: 0 } },
      ),
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("timeout", null);
    await h.clock.advance(4_999);
    assert.equal((await h.client.describe(runId)).status, "running");
    await h.clock.advance(1);
    await untilStatus(h, runId, "waiting");
    assert.equal(aborted, 1);
    await h.clock.advance(1_000);
    const run = await h.client.result(runId);
    assert.equal(run.output, "second");
    const hist = await h.client.history(runId);
    assert.equal(hist.attempts[0].error.code, "STEP_TIMEOUT");
  });

  it("fails a step whose result is over the payload limit, without retrying", async () => {
    let attempts = 0;
    const wf = workflow("big", async (ctx) => ctx.step("s", () => (attempts++, "x".repeat(5_000))));
    h = await harness([wf], { maxPayloadBytes: 4_096 });
    const run = await h.client.result((await h.client.start("big", null)).runId);
    assert.equal(attempts, 1);
    assert.equal(run.status, "failed");
    assert.match(JSON.stringify(run.error), /PAYLOAD_TOO_LARGE/);
  });

  it("runs steps started together deterministically and replays them the same", async () => {
    const gate = deferred();
    let bodyRuns = 0;
    const wf = workflow("parallel", async (ctx) => {
      bodyRuns++;
      const [a, b, c] = await Promise.all([
        ctx.step("a", async () => {
          await gate.promise;
          return "A";
        }),
        ctx.step("b", () => "B"),
        ctx.step("c", () => "C"),
      ]);
      await ctx.waitForSignal("go");
      return a + b + c;
    });
    h = await harness([wf], { maxCachedRuns: 0 });
    const { runId } = await h.client.start("parallel", null);
    gate.resolve();
    await untilStatus(h, runId, "waiting");
    const journal = await h.store.loadJournal(runId);
    assert.deepEqual(
      journal.map((e) => [e.seq, e.name]),
      [
        [0, "a"],
        [1, "b"],
        [2, "c"],
        [3, "go"],
      ],
    );
    await h.client.signal(runId, "go");
    assert.equal((await h.client.result(runId)).output, "ABC");
    assert.equal(bodyRuns, 2, "with no cache the resume replayed the body once more");
  });
});
