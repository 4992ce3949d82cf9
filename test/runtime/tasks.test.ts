import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

const shipper = workflow("ship", async (ctx, order: { id: string }) => {
  const label = await ctx.task<{ tracking: string }>("make-label", {
    queue: "shipping",
    input: order,
    retry: { maxAttempts: 3, initialIntervalMs: 1_000, jitter: 0 },
    heartbeatTimeoutMs: 10_000,
  });
  return label.tracking;
});

describe("task queues", () => {
  it("hands a task to a worker with its key and input, and resumes the run with the result", async () => {
    h = await harness([shipper]);
    const { runId } = await h.client.start("ship", { id: "o1" }, { runId: "r1" });
    await untilStatus(h, runId, "waiting");
    const [task] = await h.engine.tasks.poll({ queue: "shipping", workerId: "w1" });
    assert.equal(task.taskId, "r1:0");
    assert.equal(task.idempotencyKey, "r1:0");
    assert.deepEqual(task.input, { id: "o1" });
    assert.equal(task.attempt, 1);
    assert.equal(task.leaseExpiresAt, h.clock.now() + 10_000);
    assert.deepEqual(
      await h.engine.tasks.poll({ queue: "shipping", workerId: "w2" }),
      [],
      "leased to one worker only",
    );
    await h.engine.tasks.complete(task.taskId, task.leaseToken, { tracking: "T-1" });
    assert.equal((await h.client.result(runId)).output, "T-1");
    await assert.rejects(h.engine.tasks.complete(task.taskId, task.leaseToken, {}), {
      code: "TASK_LEASE_EXPIRED",
    });
  });

  it("retries a failed attempt after its backoff, and a terminal failure fails the step", async () => {
    h = await harness([shipper]);
    const { runId } = await h.client.start("ship", { id: "o2" });
    await untilStatus(h, runId, "waiting");
    const [t1] = await h.engine.tasks.poll({ queue: "shipping", workerId: "w1" });
    assert.deepEqual(await h.engine.tasks.fail(t1.taskId, t1.leaseToken, { message: "printer jam" }), {
      willRetry: true,
    });
    assert.deepEqual(
      await h.engine.tasks.poll({ queue: "shipping", workerId: "w1" }),
      [],
      "not before the backoff",
    );
    await h.clock.advance(1_000);
    const [t2] = await h.engine.tasks.poll({ queue: "shipping", workerId: "w2" });
    assert.equal(t2.attempt, 2);
    assert.equal(t2.taskId, t1.taskId);
    await h.engine.tasks.fail(t2.taskId, t2.leaseToken, {
      message: "address invalid",
      code: "BAD_ADDRESS",
      retryable: false,
    });
    const run = await h.client.result(runId);
    assert.equal(run.status, "failed");
    assert.match(run.error!.message, /make-label" failed: address invalid/);
    const hist = await h.client.history(runId);
    assert.deepEqual(
      hist.attempts.map((a) => [a.attempt, a.error.message]),
      [
        [1, "printer jam"],
        [2, "address invalid"],
      ],
    );
  });

  it("takes a task back when its worker stops heartbeating, and refuses the late completion", async () => {
    h = await harness([shipper]);
    const { runId } = await h.client.start("ship", { id: "o3" });
    await untilStatus(h, runId, "waiting");
    const [dead] = await h.engine.tasks.poll({ queue: "shipping", workerId: "dies" });
    await h.clock.advance(5_000);
    const hb = await h.engine.tasks.heartbeat(dead.taskId, dead.leaseToken);
    assert.equal(hb.leaseExpiresAt, h.clock.now() + 10_000);
    // The lease runs out 10 s after the heartbeat; the engine's sweep (every poll interval, 1 s) takes the
    // task back and queues attempt 2 after the 1 s backoff.
    await h.clock.advance(11_001);
    await h.clock.advance(1_000);
    const [again] = await h.engine.tasks.poll({ queue: "shipping", workerId: "lives" });
    assert.equal(again.attempt, 2);
    await assert.rejects(h.engine.tasks.complete(dead.taskId, dead.leaseToken, { tracking: "late" }), {
      code: "TASK_LEASE_EXPIRED",
    });
    await assert.rejects(h.engine.tasks.heartbeat(dead.taskId, dead.leaseToken), {
      code: "TASK_LEASE_EXPIRED",
    });
    await h.engine.tasks.complete(again.taskId, again.leaseToken, { tracking: "T-3" });
    const run = await h.client.result(runId);
    assert.equal(run.output, "T-3");
    const hist = await h.client.history(runId);
    assert.equal(hist.attempts[0].error.code, "TASK_TIMEOUT");
    assert.equal(hist.journal[0].attempt, 2);
  });

  it("tells a heartbeating worker that its run was cancelled", async () => {
    h = await harness([shipper]);
    const { runId } = await h.client.start("ship", { id: "o4" });
    await untilStatus(h, runId, "waiting");
    const [task] = await h.engine.tasks.poll({ queue: "shipping", workerId: "w" });
    await h.client.cancel(runId);
    assert.equal((await h.client.result(runId)).status, "cancelled");
    assert.equal((await h.engine.tasks.heartbeat(task.taskId, task.leaseToken)).cancelRequested, true);
    await assert.rejects(h.engine.tasks.complete(task.taskId, task.leaseToken, { tracking: "x" }), {
      code: "TASK_LEASE_EXPIRED",
    });
  });

  it("leases higher priority first and respects the queue's concurrency limit", async () => {
    const prio = workflow("prio", async (ctx, p: number) =>
      ctx.task("t", { queue: "q", input: p, priority: p }),
    );
    h = await harness([prio]);
    for (const p of [1, 5, 3]) await untilStatus(h, (await h.client.start("prio", p)).runId, "waiting");
    await h.engine.tasks.setLimits("q", { concurrency: 2 });
    const first = await h.engine.tasks.poll({ queue: "q", workerId: "w", maxTasks: 10 });
    assert.deepEqual(
      first.map((t) => t.input),
      [5, 3],
    );
    assert.deepEqual(await h.engine.tasks.poll({ queue: "q", workerId: "w", maxTasks: 10 }), []);
    await h.engine.tasks.complete(first[0].taskId, first[0].leaseToken, "done");
    const next = await h.engine.tasks.poll({ queue: "q", workerId: "w", maxTasks: 10 });
    assert.deepEqual(
      next.map((t) => t.input),
      [1],
    );
    const info = await h.engine.tasks.describe("q");
    assert.equal(info.leased, 2);
    assert.equal(info.completedLastMinute, 1);
    assert.equal(info.concurrency, 2);
    assert.deepEqual(
      info.workers.map((w) => w.workerId),
      ["w"],
    );
    await assert.rejects(h.engine.tasks.describe("never-used"), { code: "QUEUE_NOT_FOUND" });
  });

  it("rate-limits leases per second", async () => {
    const wf = workflow("rl", async (ctx, i: number) => ctx.task("t", { queue: "slow", input: i }));
    h = await harness([wf]);
    await h.engine.tasks.setLimits("slow", { ratePerSecond: 2 });
    for (let i = 0; i < 5; i++) await untilStatus(h, (await h.client.start("rl", i)).runId, "waiting");
    await h.clock.advance(1_000);
    assert.equal((await h.engine.tasks.poll({ queue: "slow", workerId: "w", maxTasks: 10 })).length, 2);
    assert.equal((await h.engine.tasks.poll({ queue: "slow", workerId: "w", maxTasks: 10 })).length, 0);
    await h.clock.advance(500);
    assert.equal((await h.engine.tasks.poll({ queue: "slow", workerId: "w", maxTasks: 10 })).length, 1);
  });

  it("fails a task nobody picked up within its schedule-to-start timeout", async () => {
    const wf = workflow("lonely", async (ctx) => {
      try {
        return await ctx.task("t", { queue: "empty", scheduleToStartMs: 30_000 });
      } catch (err) {
        return (err as any).details.cause.code;
      }
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("lonely", null);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(31_000);
    assert.equal((await h.client.result(runId)).output, "TASK_TIMEOUT");
  });

  it("long-polls: a waiting poll returns as soon as a task is queued", async () => {
    h = await harness([shipper]);
    const polling = h.engine.tasks.poll({ queue: "shipping", workerId: "w", waitMs: 60_000 });
    await h.client.start("ship", { id: "o5" });
    const tasks = await polling;
    assert.equal(tasks.length, 1);
    assert.deepEqual(tasks[0].input, { id: "o5" });
  });

  it("retries a failed run from its failed step, keeping completed steps", async () => {
    let chargeCalls = 0;
    let shipCalls = 0;
    const wf = workflow("order", async (ctx) => {
      await ctx.step("charge", () => ++chargeCalls);
      return ctx.step(
        "ship",
        () => {
          if (++shipCalls === 1) throw new Error("carrier down");
          return "shipped";
        },
        { retry: { maxAttempts: 1 } },
      );
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("order", null);
    assert.equal((await h.client.result(runId)).status, "failed");
    await h.engine.retry(runId);
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    assert.equal(run.output, "shipped");
    assert.equal(chargeCalls, 1, "the completed step was not repeated");
    assert.equal(shipCalls, 2);
    await assert.rejects(h.engine.retry(runId), { code: "RUN_NOT_RETRYABLE" });
    await assert.rejects(h.engine.retry("missing"), { code: "RUN_NOT_FOUND" });
  });
});
