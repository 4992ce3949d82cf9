// Retrying a failed run (engine.retry): the failed step runs again in a new retry round, its earlier
// attempts stay in the history, completed steps are not repeated, and a failed child is retried with it.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { TerminalError } from "../../src/core/errors.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

/** The history as [type, seq, attempt] for steps and retries (lifecycle events left out). */
async function stepEvents(runId: string) {
  const hist = await h.client.history(runId);
  return hist.events
    .filter((e) => e.type.startsWith("step:") || e.type === "run:retried")
    .map((e) => [e.type, e.seq, e.attempt ?? (e.detail as { afterAttempt?: number })?.afterAttempt]);
}

describe("retrying a failed run", () => {
  it("runs the failed step again, keeping its failed attempts, without repeating the steps before it", async () => {
    const calls = { first: 0, third: 0 };
    const attempts: number[] = [];
    let broken = true;
    const wf = workflow("three", async (ctx) => {
      const a = await ctx.step("first", () => ++calls.first);
      const b = await ctx.step(
        "second",
        ({ attempt }) => {
          attempts.push(attempt);
          if (broken) throw new Error(`down (attempt ${attempt})`);
          return a + 1;
        },
        { retry: { maxAttempts: 3, initialIntervalMs: 0 } },
      );
      return ctx.step("third", () => (++calls.third, b + 1));
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("three", null);
    const failed = await h.client.result(runId);
    assert.equal(failed.status, "failed");
    assert.deepEqual(attempts, [1, 2, 3]);

    broken = false;
    await h.clock.advance(60_000);
    await h.engine.retry(runId);
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    assert.equal(run.output, 3);
    assert.deepEqual(calls, { first: 1, third: 1 }, "step 1 was not executed again");
    assert.deepEqual(attempts, [1, 2, 3, 4], "attempt numbers go on after the retry");

    const hist = await h.client.history(runId);
    assert.deepEqual(
      hist.attempts.map((a) => [a.seq, a.attempt, a.error.message]),
      [
        [1, 1, "down (attempt 1)"],
        [1, 2, "down (attempt 2)"],
        [1, 3, "down (attempt 3)"],
      ],
    );
    assert.deepEqual(
      hist.journal.map((e) => [e.seq, e.name, e.status, e.attempt]),
      [
        [0, "first", "completed", 1],
        [1, "second", "completed", 4],
        [2, "third", "completed", 1],
      ],
    );
    assert.deepEqual(await stepEvents(runId), [
      ["step:completed", 0, 1],
      ["step:attempt-failed", 1, 1],
      ["step:attempt-failed", 1, 2],
      ["step:attempt-failed", 1, 3],
      ["run:retried", 1, 3],
      ["step:completed", 1, 4],
      ["step:completed", 2, 1],
    ]);
  });

  it("gives the retried step a fresh round of its retry policy, backoff included", async () => {
    let failures = 4;
    const wf = workflow("flaky", async (ctx) =>
      ctx.step(
        "call",
        ({ attempt }) => {
          if (failures-- > 0) throw new Error(`no ${attempt}`);
          return attempt;
        },
        { retry: { maxAttempts: 3, initialIntervalMs: 1_000, backoffCoefficient: 2, jitter: 0 } },
      ),
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("flaky", null);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(1_000);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(2_000);
    assert.equal((await h.client.result(runId)).status, "failed");

    await h.engine.retry(runId);
    // Attempt 4 fails: the new round retries it after the policy's first interval, not after 8 s.
    await untilStatus(h, runId, "waiting");
    const [entry] = await h.store.loadJournal(runId);
    assert.deepEqual([entry.status, entry.attempt], ["retrying", 4]);
    assert.equal(entry.wakeAt! - entry.updatedAt, 1_000);
    await h.clock.advance(1_000);
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    assert.equal(run.output, 5);
    assert.deepEqual(
      (await h.store.listAttempts(runId)).map((a) => a.attempt),
      [1, 2, 3, 4],
    );
  });

  it("retries the failed child of a failed parent, and the parent completes with the child's result", async () => {
    let broken = true;
    const child = workflow("child", async (ctx, n: number) => {
      const x = await ctx.step("prepare", () => n + 1);
      return ctx.step("charge", () => {
        if (broken) throw new TerminalError("card declined");
        return x * 10;
      });
    });
    const parent = workflow("parent", async (ctx, n: number) => {
      const before = await ctx.step("before", () => "kept");
      const charged = await ctx.child(child, n);
      return { before, charged };
    });
    h = await harness([parent, child]);
    const { runId } = await h.client.start("parent", 4, { runId: "p1" });
    const failed = await h.client.result(runId);
    assert.equal(failed.status, "failed");
    assert.equal(failed.error?.code, "CHILD_FAILED");
    assert.equal((await h.client.describe("p1:1")).status, "failed");

    broken = false;
    await h.clock.advance(1_000);
    await h.engine.retry(runId);
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    assert.deepEqual(run.output, { before: "kept", charged: 50 });
    const kid = await h.client.result("p1:1");
    assert.equal(kid.status, "completed");
    assert.equal(kid.output, 50);

    assert.deepEqual(await stepEvents("p1:1"), [
      ["step:completed", 0, 1],
      ["step:attempt-failed", 1, 1],
      ["run:retried", 1, 1],
      ["step:completed", 1, 2],
    ]);
    const journal = await h.store.loadJournal(runId);
    assert.deepEqual(
      journal.map((e) => [e.seq, e.kind, e.status]),
      [
        [0, "step", "completed"],
        [1, "child", "completed"],
      ],
    );
    assert.deepEqual(journal[1].detail, {
      childRunId: "p1:1",
      childWorkflow: "child",
      retries: [{ at: h.clock.now(), afterAttempt: 0 }],
    });
    assert.ok((await stepEvents(runId)).some(([type, seq]) => type === "run:retried" && seq === 1));
  });

  it("retries a failed task in a new round: queued again, attempt numbers go on", async () => {
    const wf = workflow("ship", async (ctx) =>
      ctx.task<string>("label", { queue: "q", retry: { maxAttempts: 2, initialIntervalMs: 0 } }),
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("ship", null);
    await untilStatus(h, runId, "waiting");
    for (const willRetry of [true, false]) {
      const [t] = await h.engine.tasks.poll({ queue: "q", workerId: "w", waitMs: 1_000 });
      assert.deepEqual(await h.engine.tasks.fail(t.taskId, t.leaseToken, { message: "jam" }), { willRetry });
    }
    assert.equal((await h.client.result(runId)).status, "failed");

    await h.engine.retry(runId);
    const [t3] = await h.engine.tasks.poll({ queue: "q", workerId: "w", waitMs: 1_000 });
    assert.equal(t3.attempt, 3);
    assert.deepEqual(
      await h.engine.tasks.fail(t3.taskId, t3.leaseToken, { message: "jam" }),
      { willRetry: true },
      "the new round has the policy's attempts again",
    );
    const [t4] = await h.engine.tasks.poll({ queue: "q", workerId: "w", waitMs: 1_000 });
    assert.equal(t4.attempt, 4);
    await h.engine.tasks.complete(t4.taskId, t4.leaseToken, "labelled");
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    assert.equal(run.output, "labelled");
    assert.deepEqual(
      (await h.store.listAttempts(runId)).map((a) => a.attempt),
      [1, 2, 3],
    );
  });

  it("is refused when the parent would wait again on a child that was terminated", async () => {
    const child = workflow("child", async (ctx) => ctx.waitForSignal("never"));
    const parent = workflow("parent", async (ctx) => ctx.child(child, null, { runId: "kid" }));
    h = await harness([parent, child]);
    const { runId } = await h.client.start("parent", null);
    await untilStatus(h, "kid", "waiting");
    await h.client.terminate("kid", "operator");
    assert.equal((await h.client.result(runId)).status, "failed");
    await assert.rejects(h.engine.retry(runId), (err: any) => {
      assert.equal(err.code, "RUN_NOT_RETRYABLE");
      assert.match(err.message, /child run "kid", which was terminated/);
      return true;
    });
    assert.equal((await h.client.describe(runId)).status, "failed");
  });
});
