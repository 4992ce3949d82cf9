// The store contract, continued: retryRun. A retry reopens a failed run from its first failed entry and
// keeps that entry's history (failed attempts, a retry record); failed children it waits on are retried too.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EncodedEntry } from "../../src/store/store.js";
import { type ContractHelpers, LEASE, T0 } from "./helpers.js";

const UNDO_SEQ_BASE = 1_000_000_000;
const RETRY_AT = T0 + 100;

export function retryContract(h: ContractHelpers): void {
  const { one, create, getRun, entry, put, store, expectRun, claimAll } = h;

  const err = (message: string) => JSON.stringify({ name: "Error", message });
  const failedAttempt = (seq: number, attempt: number) => ({
    seq,
    attempt,
    startedAt: T0 + attempt,
    endedAt: T0 + attempt,
    errorJson: err(`try ${attempt}`),
    node: "node-a",
  });
  /** A step entry that failed after `attempts` attempts, each recorded as a failed attempt. */
  const failStep = async (runId: string, seq: number, attempts: number, fence = 1) => {
    for (let a = 1; a <= attempts; a++) {
      const last = a === attempts;
      await one({
        type: "putEntry",
        runId,
        fence,
        entry: entry(seq, {
          status: last ? "failed" : "retrying",
          attempt: a,
          resultJson: null,
          errorJson: err(`try ${a}`),
          wakeAt: last ? undefined : T0 + 10 * a,
          detailJson: JSON.stringify({ hasUndo: true }),
        }),
        failedAttempt: failedAttempt(seq, a),
      });
    }
  };
  const failRun = (runId: string, fence = 1, now = T0 + 50) =>
    one({
      type: "completeRun",
      runId,
      fence,
      status: "failed",
      outputJson: null,
      error: { name: "StepFailedError", message: "x" },
      now,
    });
  const retry = (runId: string, now = RETRY_AT) => one({ type: "retryRun", runId, now });
  const childEntry = (seq: number, childRunId: string, over: Partial<EncodedEntry> = {}) =>
    entry(seq, {
      kind: "child",
      name: "kid",
      status: "waiting",
      attempt: 0,
      resultJson: null,
      detailJson: JSON.stringify({ childRunId, childWorkflow: "kid" }),
      ...over,
    });
  /** `parent` (owned, fence 1) starts `child` at `seq`, owned by node-a at once (fence 1). */
  const startChild = (parent: string, seq: number, child: string) =>
    one({
      type: "startChild",
      runId: parent,
      fence: 1,
      entry: childEntry(seq, child),
      child: { runId: child, workflow: "kid", version: "1", inputJson: null, parentRunId: parent, now: T0 },
      claim: { nodeId: "node-a", leaseMs: LEASE },
    });
  /** The parent records its child's failure at `seq`, then fails. */
  const failParent = async (parent: string, seq: number, child: string) => {
    await put(parent, 1, childEntry(seq, child, { status: "failed", errorJson: err(`${child} failed`) }));
    await failRun(parent, 1, T0 + 60);
  };
  const journalOf = async (runId: string) =>
    (await store().loadJournal(runId)).map((e) => [e.seq, e.kind, e.status, e.attempt]);
  const attemptsOf = async (runId: string) =>
    (await store().listAttempts(runId)).map((a) => [a.seq, a.attempt, a.error.message]);

  describe("retryRun", () => {
    it("reopens the first failed step as retrying, keeping its failed attempts, and drops what followed", async () => {
      await create("r1", {}, "node-a");
      await put("r1", 1, entry(0));
      await failStep("r1", 1, 3);
      // What followed the failed step: a parallel step (with a failed attempt), a task and an undo.
      await one({
        type: "putEntry",
        runId: "r1",
        fence: 1,
        entry: entry(2),
        failedAttempt: failedAttempt(2, 1),
      });
      await one({
        type: "scheduleTask",
        runId: "r1",
        fence: 1,
        entry: entry(3, { kind: "task", status: "waiting", attempt: 0, resultJson: null }),
        task: {
          taskId: "r1:3",
          queue: "q",
          runId: "r1",
          seq: 3,
          name: "step-3",
          inputJson: null,
          priority: 0,
          retryJson: "{}",
          startToCloseMs: 60_000,
          now: T0,
        },
      });
      await put("r1", 1, entry(UNDO_SEQ_BASE + 1, { kind: "undo", status: "failed" }));
      await one({ type: "requestCancel", runId: "r1", now: T0 });
      await failRun("r1");

      assert.deepEqual(await retry("r1"), { ok: true });
      expectRun(await getRun("r1"), {
        status: "pending",
        error: undefined,
        output: undefined,
        completedAt: undefined,
        cancelRequested: false,
        owner: undefined,
        wakeAt: RETRY_AT,
        updatedAt: RETRY_AT,
        fence: 1,
      });
      assert.deepEqual(await journalOf("r1"), [
        [0, "step", "completed", 1],
        [1, "step", "retrying", 3],
      ]);
      const reopened = await store().getEntry("r1", 1);
      assert.ok(reopened);
      assert.equal(reopened.wakeAt, RETRY_AT);
      assert.equal(reopened.updatedAt, RETRY_AT);
      assert.equal(reopened.startedAt, T0);
      assert.deepEqual(reopened.error, { name: "Error", message: "try 3" });
      assert.deepEqual(reopened.detail, { hasUndo: true, retries: [{ at: RETRY_AT, afterAttempt: 3 }] });
      assert.deepEqual(await attemptsOf("r1"), [
        [1, 1, "try 1"],
        [1, 2, "try 2"],
        [1, 3, "try 3"],
      ]);
      assert.equal(await store().getTask("r1:3"), undefined);

      // Claimable again, under a new fence.
      const [claimed] = await claimAll("node-b", RETRY_AT);
      assert.equal(claimed.runId, "r1");
      assert.equal(claimed.fence, 2);
    });

    it("continues the attempt numbers, and a second retry adds a second record", async () => {
      await create("r1", {}, "node-a");
      await failStep("r1", 0, 2);
      await failRun("r1");
      assert.deepEqual(await retry("r1"), { ok: true });
      await claimAll("node-a", RETRY_AT);
      // Attempts 3 and 4 fail in the new round (the runtime writes them under the new fence).
      for (const a of [3, 4]) {
        await one({
          type: "putEntry",
          runId: "r1",
          fence: 2,
          entry: entry(0, {
            status: a === 4 ? "failed" : "retrying",
            attempt: a,
            resultJson: null,
            errorJson: err(`try ${a}`),
            detailJson: JSON.stringify({ retries: [{ at: RETRY_AT, afterAttempt: 2 }] }),
          }),
          failedAttempt: failedAttempt(0, a),
        });
      }
      await failRun("r1", 2, T0 + 200);
      assert.deepEqual(await retry("r1", T0 + 300), { ok: true });
      assert.deepEqual(
        (await store().listAttempts("r1")).map((a) => a.attempt),
        [1, 2, 3, 4],
      );
      assert.deepEqual((await store().getEntry("r1", 0))?.detail, {
        retries: [
          { at: RETRY_AT, afterAttempt: 2 },
          { at: T0 + 300, afterAttempt: 4 },
        ],
      });
    });

    it("reopens a failed task as waiting and queues it again with its attempt count", async () => {
      await create("r1", {}, "node-a");
      await one({
        type: "scheduleTask",
        runId: "r1",
        fence: 1,
        entry: entry(0, {
          kind: "task",
          name: "ship",
          status: "waiting",
          attempt: 0,
          resultJson: null,
          detailJson: JSON.stringify({ queue: "q", taskId: "r1:0" }),
        }),
        task: {
          taskId: "r1:0",
          queue: "q",
          runId: "r1",
          seq: 0,
          name: "ship",
          inputJson: '{"to":"x"}',
          priority: 0,
          retryJson: JSON.stringify({ maxAttempts: 2 }),
          scheduleToStartAt: T0 + 5_000,
          startToCloseMs: 60_000,
          now: T0,
        },
      });
      for (const [token, retryAt] of [
        [1, T0 + 1],
        [2, undefined],
      ] as const) {
        const [leased] = await store().leaseTasks({ queue: "q", workerId: "w1", limit: 1, now: T0 + token });
        assert.equal(leased.leaseToken, token);
        const r = await one({
          type: "failTask",
          taskId: "r1:0",
          leaseToken: token,
          errorJson: err(`try ${token}`),
          retryAt,
          now: T0 + token,
        });
        assert.equal(r.ok, true);
      }
      await failRun("r1");

      assert.deepEqual(await retry("r1"), { ok: true });
      assert.deepEqual(await journalOf("r1"), [[0, "task", "waiting", 2]]);
      assert.deepEqual((await store().getEntry("r1", 0))?.detail, {
        queue: "q",
        taskId: "r1:0",
        retries: [{ at: RETRY_AT, afterAttempt: 2 }],
      });
      const task = await store().getTask("r1:0");
      assert.ok(task);
      assert.equal(task.status, "queued");
      assert.equal(task.attempt, 2);
      assert.equal(task.availableAt, RETRY_AT);
      assert.equal(task.workerId, undefined);
      assert.equal(task.leaseExpiresAt, undefined);
      assert.equal(task.scheduleToStartAt, RETRY_AT + 5_000, "the schedule-to-start window counts anew");
      assert.deepEqual(await attemptsOf("r1"), [
        [0, 1, "try 1"],
        [0, 2, "try 2"],
      ]);

      // The next lease is attempt 3; its completion completes the reopened entry.
      const [again] = await store().leaseTasks({ queue: "q", workerId: "w2", limit: 1, now: RETRY_AT });
      assert.equal(again.attempt, 3);
      assert.deepEqual(
        await one({ type: "completeTask", taskId: "r1:0", leaseToken: 3, resultJson: '"ok"', now: RETRY_AT }),
        { ok: true, queue: "q" },
      );
      assert.deepEqual(await journalOf("r1"), [[0, "task", "completed", 3]]);
    });

    it("queues again a task the run's failure cancelled, whose entry still waits", async () => {
      await create("r1", {}, "node-a");
      await one({
        type: "scheduleTask",
        runId: "r1",
        fence: 1,
        entry: entry(0, { kind: "task", status: "waiting", attempt: 0, resultJson: null }),
        task: {
          taskId: "r1:0",
          queue: "q",
          runId: "r1",
          seq: 0,
          name: "step-0",
          inputJson: null,
          priority: 0,
          retryJson: "{}",
          startToCloseMs: 60_000,
          now: T0,
        },
      });
      const [leased] = await store().leaseTasks({ queue: "q", workerId: "w1", limit: 1, now: T0 });
      await failStep("r1", 1, 1);
      await failRun("r1");
      assert.equal((await store().getTask("r1:0"))?.status, "cancelled");

      assert.deepEqual(await retry("r1"), { ok: true });
      assert.deepEqual(await journalOf("r1"), [
        [0, "task", "waiting", 0],
        [1, "step", "retrying", 1],
      ]);
      const task = await store().getTask("r1:0");
      assert.ok(task);
      assert.deepEqual([task.status, task.attempt, task.availableAt], ["queued", 1, RETRY_AT]);
      // The worker of the cancelled lease is fenced off; the next lease is attempt 2.
      assert.deepEqual(
        await one({
          type: "completeTask",
          taskId: "r1:0",
          leaseToken: leased.leaseToken,
          resultJson: null,
          now: RETRY_AT,
        }),
        { ok: false, code: "TASK_LEASE_EXPIRED" },
      );
      const [again] = await store().leaseTasks({ queue: "q", workerId: "w2", limit: 1, now: RETRY_AT });
      assert.deepEqual([again.attempt, again.leaseToken], [2, leased.leaseToken + 1]);
    });

    it("retries the failed child runs the parent waits on, recursively", async () => {
      await create("p", {}, "node-a");
      await put("p", 1, entry(0));
      await startChild("p", 1, "p:1");
      await startChild("p:1", 0, "p:1:0");
      await failStep("p:1:0", 0, 2);
      await failRun("p:1:0");
      await failParent("p:1", 0, "p:1:0");
      await failParent("p", 1, "p:1");

      assert.deepEqual(await retry("p"), { ok: true });
      for (const runId of ["p", "p:1", "p:1:0"]) {
        expectRun(await getRun(runId), { status: "pending", owner: undefined, wakeAt: RETRY_AT, fence: 1 });
      }
      assert.deepEqual(await journalOf("p"), [
        [0, "step", "completed", 1],
        [1, "child", "waiting", 0],
      ]);
      assert.deepEqual((await store().getEntry("p", 1))?.detail, {
        childRunId: "p:1",
        childWorkflow: "kid",
        retries: [{ at: RETRY_AT, afterAttempt: 0 }],
      });
      assert.deepEqual(await journalOf("p:1"), [[0, "child", "waiting", 0]]);
      assert.deepEqual(await journalOf("p:1:0"), [[0, "step", "retrying", 2]]);
      assert.deepEqual(
        (await store().listAttempts("p:1:0")).map((a) => a.attempt),
        [1, 2],
      );
      assert.deepEqual((await claimAll("node-b", RETRY_AT)).map((r) => [r.runId, r.fence]).sort(), [
        ["p", 2],
        ["p:1", 2],
        ["p:1:0", 2],
      ]);
    });

    it("reopens the parent's wait on a child that was retried on its own and is running again", async () => {
      await create("p", {}, "node-a");
      await startChild("p", 0, "p:0");
      await failStep("p:0", 0, 1);
      await failRun("p:0");
      await failParent("p", 0, "p:0");
      assert.deepEqual(await retry("p:0", T0 + 70), { ok: true });
      assert.deepEqual(await retry("p"), { ok: true });
      assert.deepEqual(await journalOf("p"), [[0, "child", "waiting", 0]]);
      // The child was not reopened a second time.
      expectRun(await getRun("p:0"), { status: "pending", wakeAt: T0 + 70 });
    });

    it("is refused, changing nothing, when a child it would wait on cannot be retried", async () => {
      // p waits on two children: p:0 failed (retryable), p:1 was terminated.
      await create("p", {}, "node-a");
      await startChild("p", 0, "p:0");
      await startChild("p", 1, "p:1");
      await failStep("p:0", 0, 1);
      await failRun("p:0");
      await one({ type: "terminateRun", runId: "p:1", reason: "operator", now: T0 + 55 });
      await put("p", 1, childEntry(1, "p:1", { status: "failed", errorJson: err("terminated") }));
      await failParent("p", 0, "p:0");
      assert.deepEqual(await retry("p"), {
        ok: false,
        code: "RUN_NOT_RETRYABLE",
        runId: "p:1",
        status: "terminated",
      });
      expectRun(await getRun("p"), { status: "failed", wakeAt: undefined });
      expectRun(await getRun("p:0"), { status: "failed", wakeAt: undefined });
      assert.deepEqual(await journalOf("p"), [
        [0, "child", "failed", 0],
        [1, "child", "failed", 0],
      ]);
      assert.deepEqual(await journalOf("p:0"), [[0, "step", "failed", 1]]);

      // A compensated child refuses it too.
      await create("q", {}, "node-a");
      await startChild("q", 0, "q:0");
      await failStep("q:0", 0, 1);
      await put("q:0", 1, entry(UNDO_SEQ_BASE, { kind: "undo" }));
      await failRun("q:0");
      await failParent("q", 0, "q:0");
      assert.deepEqual(await retry("q"), { ok: false, code: "RUN_NOT_RETRYABLE", runId: "q:0" });
      expectRun(await getRun("q"), { status: "failed" });
    });

    it("drops a timed-out signal wait and a wait on a child that does not exist", async () => {
      await create("r1", {}, "node-a");
      await put(
        "r1",
        1,
        entry(0, { kind: "signal", name: "go", status: "failed", attempt: 0, errorJson: err("timeout") }),
      );
      await failRun("r1");
      assert.deepEqual(await retry("r1"), { ok: true });
      assert.deepEqual(await journalOf("r1"), []);

      await create("r2", {}, "node-a");
      await put("r2", 1, entry(0));
      await put("r2", 1, childEntry(1, "ghost", { status: "failed", errorJson: err("not found") }));
      await failRun("r2");
      assert.deepEqual(await retry("r2"), { ok: true });
      assert.deepEqual(await journalOf("r2"), [[0, "step", "completed", 1]]);
    });

    it("without a failed entry, drops only the compensation entries", async () => {
      await create("r1", {}, "node-a");
      for (const e of [entry(0), entry(1), entry(UNDO_SEQ_BASE + 1, { kind: "undo", status: "failed" })]) {
        await put("r1", 1, e);
      }
      await failRun("r1");
      assert.deepEqual(await retry("r1"), { ok: true });
      assert.deepEqual(
        (await store().loadJournal("r1")).map((e) => e.seq),
        [0, 1],
      );
    });

    it("is refused unless the run failed and no compensation completed", async () => {
      assert.deepEqual(await retry("nope"), { ok: false, code: "RUN_NOT_FOUND" });
      await create("running", {}, "node-a");
      assert.deepEqual(await retry("running"), {
        ok: false,
        code: "RUN_NOT_RETRYABLE",
        status: "running",
      });
      await create("compensated", {}, "node-a");
      await failStep("compensated", 0, 1);
      await put("compensated", 1, entry(UNDO_SEQ_BASE, { kind: "undo", status: "completed" }));
      await failRun("compensated");
      assert.deepEqual(await retry("compensated"), { ok: false, code: "RUN_NOT_RETRYABLE" });
      expectRun(await getRun("compensated"), { status: "failed" });
      assert.deepEqual(await journalOf("compensated"), [
        [0, "step", "failed", 1],
        [UNDO_SEQ_BASE, "undo", "completed", 1],
      ]);
    });
  });
}
