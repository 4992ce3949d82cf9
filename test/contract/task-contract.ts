// The store contract, continued: task queues, schedules and definitions. Defined inside
// storeContract's describe, so every test gets a fresh migrated store from `current()`.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ScheduleRecord, TaskRecord } from "../../src/core/types.js";
import type { EncodedEntry, NewTask, Store, WriteOp, WriteResult } from "../../src/store/store.js";
import { LEASE, T0 } from "./helpers.js";

export function taskContract(current: () => Store): void {
  const one = async (op: WriteOp): Promise<WriteResult> => (await current().write([op]))[0];

  const entry = (seq: number, over: Partial<EncodedEntry> = {}): EncodedEntry => ({
    seq,
    kind: "step",
    name: `step-${seq}`,
    status: "completed",
    attempt: 1,
    resultJson: "null",
    errorJson: null,
    detailJson: null,
    startedAt: T0,
    updatedAt: T0,
    ...over,
  });

  /** A run owned by node-a (fence 1). */
  const ownedRun = async (runId: string) => {
    const r = await one({
      type: "createRun",
      run: { runId, workflow: "wf", version: "1", inputJson: null, now: T0 },
      claim: { nodeId: "node-a", leaseMs: LEASE },
    });
    assert.deepEqual(r, { ok: true, created: true });
  };

  const newTask = (runId: string, seq: number, over: Partial<NewTask> = {}): NewTask => ({
    taskId: `${runId}:${seq}`,
    queue: "q",
    runId,
    seq,
    name: `task-${seq}`,
    inputJson: JSON.stringify({ seq }),
    priority: 0,
    retryJson: JSON.stringify({ maxAttempts: 3 }),
    startToCloseMs: 60_000,
    now: T0,
    ...over,
  });

  const schedule = (runId: string, seq: number, over: Partial<NewTask> = {}, fence = 1) =>
    one({
      type: "scheduleTask",
      runId,
      fence,
      entry: entry(seq, {
        kind: "task",
        name: `task-${seq}`,
        status: "waiting",
        attempt: 0,
        resultJson: null,
      }),
      task: newTask(runId, seq, over),
    });

  const lease = (now = T0, limit = 10, queue = "q", workerId = "w1") =>
    current().leaseTasks({ queue, workerId, limit, now });

  const task = async (taskId: string): Promise<TaskRecord> => {
    const t = await current().getTask(taskId);
    assert.ok(t, `task ${taskId} exists`);
    return t;
  };

  const err = (message: string) => JSON.stringify({ name: "Error", message });

  describe("scheduleTask", () => {
    it("writes the waiting entry and queues the task", async () => {
      await ownedRun("r1");
      assert.deepEqual(
        await schedule("r1", 3, { priority: 7, heartbeatTimeoutMs: 5_000, scheduleToStartAt: T0 + 9_000 }),
        { ok: true, queue: "q" },
      );
      assert.deepEqual(await task("r1:3"), {
        taskId: "r1:3",
        queue: "q",
        runId: "r1",
        seq: 3,
        name: "task-3",
        input: { seq: 3 },
        priority: 7,
        status: "queued",
        attempt: 0,
        retry: { maxAttempts: 3 },
        leaseToken: 0,
        workerId: undefined,
        leaseExpiresAt: undefined,
        availableAt: T0,
        scheduleToStartAt: T0 + 9_000,
        startToCloseMs: 60_000,
        heartbeatTimeoutMs: 5_000,
        traceparent: undefined,
        lastError: undefined,
        createdAt: T0,
        startedAt: undefined,
        updatedAt: T0,
      });
      const e = await current().getEntry("r1", 3);
      assert.equal(e?.kind, "task");
      assert.equal(e?.status, "waiting");
      assert.equal(await current().getEntry("r1", 4), undefined);
    });

    it("queues a task id once", async () => {
      await ownedRun("r1");
      await schedule("r1", 0);
      assert.deepEqual(await schedule("r1", 0, { priority: 9, queue: "other" }), {
        ok: true,
        queue: "other",
      });
      const t = await task("r1:0");
      assert.equal(t.priority, 0);
      assert.equal(t.queue, "q");
    });

    it("checks the run and its fence", async () => {
      await ownedRun("r1");
      assert.deepEqual(await schedule("r1", 0, {}, 2), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await schedule("nope", 0), { ok: false, code: "RUN_NOT_FOUND" });
      assert.equal(await current().getTask("r1:0"), undefined);
      assert.equal(await current().getEntry("r1", 0), undefined);
    });
  });

  describe("leaseTasks", () => {
    it("leases ready tasks of the queue, highest priority first, and starts an attempt", async () => {
      await ownedRun("r1");
      await schedule("r1", 0, { priority: 0 });
      await schedule("r1", 1, { priority: 5, heartbeatTimeoutMs: 10_000 });
      await schedule("r1", 2, { priority: 1 });
      await schedule("r1", 3, { priority: 9, now: T0 + 1_000 }); // not available yet
      await schedule("r1", 4, { priority: 9, queue: "elsewhere" });
      const leased = await lease(T0 + 100, 2);
      assert.deepEqual(
        leased.map((t) => t.taskId),
        ["r1:1", "r1:2"],
      );
      assert.deepEqual(leased[0], await task("r1:1"));
      const [first, second] = leased;
      assert.equal(first.status, "leased");
      assert.equal(first.attempt, 1);
      assert.equal(first.leaseToken, 1);
      assert.equal(first.workerId, "w1");
      assert.equal(first.startedAt, T0 + 100);
      assert.equal(first.leaseExpiresAt, T0 + 100 + 10_000, "the heartbeat timeout bounds the first lease");
      assert.equal(second.leaseExpiresAt, T0 + 100 + 60_000);
      assert.deepEqual(
        (await lease(T0 + 100)).map((t) => t.taskId),
        ["r1:0"],
      );
      assert.deepEqual(await lease(T0 + 100), []);
      assert.deepEqual(
        (await lease(T0 + 1_000)).map((t) => t.taskId),
        ["r1:3"],
      );
    });

    it("two workers leasing at once never get the same task", async () => {
      await ownedRun("r1");
      for (let seq = 0; seq < 30; seq++) await schedule("r1", seq);
      const got = (await Promise.all(["w1", "w2", "w3"].map((w) => lease(T0, 30, "q", w)))).flat();
      assert.equal(got.length, 30);
      assert.equal(new Set(got.map((t) => t.taskId)).size, 30);
    });

    it("keeps within the queue's concurrency limit", async () => {
      await ownedRun("r1");
      for (let seq = 0; seq < 5; seq++) await schedule("r1", seq);
      assert.deepEqual(await one({ type: "setQueueLimits", queue: "q", concurrency: 2 }), {
        ok: true,
        queue: "q",
      });
      const leased = await lease(T0, 10);
      assert.equal(leased.length, 2);
      assert.deepEqual(await lease(T0, 10), []);
      await one({ type: "completeTask", taskId: leased[0].taskId, leaseToken: 1, resultJson: "1", now: T0 });
      assert.equal((await lease(T0, 10)).length, 1);
      await one({ type: "setQueueLimits", queue: "q", concurrency: null });
      assert.equal((await lease(T0, 10)).length, 2);
    });

    it("keeps within the queue's rate limit (a bucket of one second's worth)", async () => {
      await ownedRun("r1");
      for (let seq = 0; seq < 8; seq++) await schedule("r1", seq);
      await one({ type: "setQueueLimits", queue: "q", ratePerSecond: 2 });
      assert.equal((await lease(T0, 10)).length, 2);
      assert.equal((await lease(T0, 10)).length, 0);
      assert.equal((await lease(T0 + 500, 10)).length, 1);
      assert.equal((await lease(T0 + 1_000, 10)).length, 1);
      assert.equal((await lease(T0 + 60_000, 10)).length, 2, "the bucket holds one second's worth at most");
    });
  });

  describe("completeTask and failTask", () => {
    it("completeTask completes the task and its entry and wakes the run", async () => {
      await ownedRun("r1");
      await schedule("r1", 0);
      await one({ type: "suspendRun", runId: "r1", fence: 1, now: T0 });
      const [t] = await lease(T0 + 10);
      assert.deepEqual(
        await one({
          type: "completeTask",
          taskId: t.taskId,
          leaseToken: 1,
          resultJson: '{"ok":1}',
          now: T0 + 20,
        }),
        { ok: true, queue: "q" },
      );
      const done = await task("r1:0");
      assert.equal(done.status, "completed");
      assert.equal(done.leaseExpiresAt, undefined);
      assert.equal(done.updatedAt, T0 + 20);
      const e = await current().getEntry("r1", 0);
      assert.equal(e?.status, "completed");
      assert.deepEqual(e?.result, { ok: 1 });
      assert.equal(e?.attempt, 1);
      assert.equal(e?.updatedAt, T0 + 20);
      assert.equal((await current().getRun("r1"))?.wakeAt, T0 + 20);
      assert.deepEqual(
        await one({ type: "completeTask", taskId: t.taskId, leaseToken: 1, resultJson: "2", now: T0 }),
        {
          ok: false,
          code: "TASK_LEASE_EXPIRED",
        },
      );
      assert.deepEqual(
        await one({ type: "completeTask", taskId: "nope", leaseToken: 1, resultJson: "2", now: T0 }),
        {
          ok: false,
          code: "TASK_NOT_FOUND",
        },
      );
    });

    it("refuses a wrong token or a lease that ran out", async () => {
      await ownedRun("r1");
      await schedule("r1", 0);
      const [t] = await lease(T0);
      const complete = (leaseToken: number, now: number) =>
        one({ type: "completeTask", taskId: t.taskId, leaseToken, resultJson: "1", now });
      assert.deepEqual(await complete(2, T0), { ok: false, code: "TASK_LEASE_EXPIRED" });
      assert.deepEqual(await complete(1, T0 + 60_001), { ok: false, code: "TASK_LEASE_EXPIRED" });
      assert.equal((await task(t.taskId)).status, "leased");
      assert.deepEqual(await complete(1, T0 + 60_000), { ok: true, queue: "q" });
    });

    it("failTask with retryAt records the attempt and queues the task again", async () => {
      await ownedRun("r1");
      await schedule("r1", 0);
      await lease(T0 + 5);
      assert.deepEqual(
        await one({
          type: "failTask",
          taskId: "r1:0",
          leaseToken: 1,
          errorJson: err("busy"),
          retryAt: T0 + 500,
          now: T0 + 50,
        }),
        { ok: true, queue: "q" },
      );
      const t = await task("r1:0");
      assert.equal(t.status, "queued");
      assert.equal(t.workerId, undefined);
      assert.equal(t.leaseExpiresAt, undefined);
      assert.equal(t.availableAt, T0 + 500);
      assert.deepEqual(t.lastError, { name: "Error", message: "busy" });
      assert.deepEqual(await current().listAttempts("r1"), [
        {
          runId: "r1",
          seq: 0,
          attempt: 1,
          startedAt: T0 + 5,
          endedAt: T0 + 50,
          error: { name: "Error", message: "busy" },
          node: "w1",
        },
      ]);
      const e = await current().getEntry("r1", 0);
      assert.equal(e?.status, "waiting");
      assert.equal(e?.attempt, 1);
      assert.deepEqual(e?.error, { name: "Error", message: "busy" });
      assert.deepEqual(await lease(T0 + 499), []);
      const [again] = await lease(T0 + 500, 10, "q", "w2");
      assert.equal(again.attempt, 2);
      assert.equal(again.leaseToken, 2);
      assert.equal(again.workerId, "w2");
    });

    it("failTask without retryAt fails the task and the entry and wakes the run", async () => {
      await ownedRun("r1");
      await schedule("r1", 0);
      await one({ type: "suspendRun", runId: "r1", fence: 1, now: T0 });
      await lease(T0);
      assert.deepEqual(
        await one({ type: "failTask", taskId: "r1:0", leaseToken: 1, errorJson: err("fatal"), now: T0 + 7 }),
        { ok: true, queue: "q" },
      );
      assert.equal((await task("r1:0")).status, "failed");
      const e = await current().getEntry("r1", 0);
      assert.equal(e?.status, "failed");
      assert.deepEqual(e?.error, { name: "Error", message: "fatal" });
      assert.equal((await current().getRun("r1"))?.wakeAt, T0 + 7);
      assert.equal((await current().listAttempts("r1")).length, 1);
    });

    it("the engine expires a lease that ran out, or a task that waited too long to start", async () => {
      await ownedRun("r1");
      await schedule("r1", 0);
      await schedule("r1", 1, { scheduleToStartAt: T0 + 100 });
      await lease(T0, 1);
      const late = T0 + 60_001;
      assert.deepEqual(
        await one({ type: "failTask", taskId: "r1:0", leaseToken: 1, errorJson: err("lost"), now: late }),
        { ok: false, code: "TASK_LEASE_EXPIRED" },
        "a worker cannot report on a lease that ran out",
      );
      const fail = (taskId: string, leaseToken: number) =>
        one({ type: "failTask", taskId, leaseToken, errorJson: err("timeout"), expired: true, now: late });
      assert.deepEqual(
        await fail("r1:0", 0),
        { ok: false, code: "TASK_LEASE_EXPIRED" },
        "still needs the token",
      );
      assert.deepEqual(await fail("r1:0", 1), { ok: true, queue: "q" });
      assert.deepEqual(await fail("r1:1", 0), { ok: true, queue: "q" });
      assert.equal((await task("r1:1")).status, "failed");
    });
  });

  describe("heartbeatTask", () => {
    it("extends the lease by the heartbeat timeout, never past start-to-close", async () => {
      await ownedRun("r1");
      await schedule("r1", 0, { startToCloseMs: 20_000, heartbeatTimeoutMs: 10_000 });
      const [t] = await lease(T0);
      assert.equal(t.leaseExpiresAt, T0 + 10_000);
      const beat = (now: number, leaseToken = 1, taskId = "r1:0") =>
        one({ type: "heartbeatTask", taskId, leaseToken, now });
      assert.deepEqual(await beat(T0 + 9_000), {
        ok: true,
        cancelRequested: false,
        leaseExpiresAt: T0 + 19_000,
      });
      assert.equal((await task("r1:0")).leaseExpiresAt, T0 + 19_000);
      assert.deepEqual(await beat(T0 + 15_000), {
        ok: true,
        cancelRequested: false,
        leaseExpiresAt: T0 + 20_000,
      });
      assert.deepEqual(await beat(T0 + 15_000, 2), { ok: false, code: "TASK_LEASE_EXPIRED" });
      assert.deepEqual(await beat(T0 + 20_001), { ok: false, code: "TASK_LEASE_EXPIRED" });
      assert.deepEqual(await beat(T0, 1, "nope"), { ok: false, code: "TASK_NOT_FOUND" });
    });

    it("reports a cancel request of the run, and a cancelled task", async () => {
      await ownedRun("r1");
      await schedule("r1", 0);
      await lease(T0);
      await one({ type: "requestCancel", runId: "r1", now: T0 });
      assert.deepEqual(await one({ type: "heartbeatTask", taskId: "r1:0", leaseToken: 1, now: T0 + 1 }), {
        ok: true,
        cancelRequested: true,
        leaseExpiresAt: T0 + 60_000,
      });
      await one({ type: "terminateRun", runId: "r1", reason: "x", now: T0 + 2 });
      assert.deepEqual(await one({ type: "heartbeatTask", taskId: "r1:0", leaseToken: 1, now: T0 + 3 }), {
        ok: true,
        cancelRequested: true,
      });
    });
  });

  describe("task housekeeping", () => {
    it("finishing a run cancels its open tasks", async () => {
      for (const [runId, finish] of [
        [
          "done",
          { type: "completeRun", runId: "done", fence: 1, status: "failed", outputJson: null, now: T0 + 9 },
        ],
        ["killed", { type: "terminateRun", runId: "killed", reason: "x", now: T0 + 9 }],
      ] as const) {
        await ownedRun(runId);
        await schedule(runId, 0);
        await schedule(runId, 1);
        await schedule(runId, 2);
        const [, second] = await lease(T0, 2);
        await one({ type: "completeTask", taskId: second.taskId, leaseToken: 1, resultJson: "1", now: T0 });
        await one(finish as WriteOp);
        const statuses = await Promise.all(
          [0, 1, 2].map(async (seq) => (await task(`${runId}:${seq}`)).status),
        );
        assert.deepEqual(statuses, ["cancelled", "completed", "cancelled"], runId);
        assert.equal((await task(`${runId}:0`)).updatedAt, T0 + 9);
      }
    });

    it("expiredTasks lists leases that ran out and tasks that waited too long to start", async () => {
      await ownedRun("r1");
      await schedule("r1", 0, { heartbeatTimeoutMs: 10_000 });
      await schedule("r1", 1, { scheduleToStartAt: T0 + 5_000 });
      await schedule("r1", 2);
      await lease(T0, 1);
      const ids = async (now: number, limit = 10) =>
        (await current().expiredTasks({ now, limit })).map((t) => t.taskId).sort();
      assert.deepEqual(await ids(T0 + 5_000), []);
      assert.deepEqual(await ids(T0 + 5_001), ["r1:1"]);
      assert.deepEqual(await ids(T0 + 10_001), ["r1:0", "r1:1"]);
      assert.equal((await ids(T0 + 10_001, 1)).length, 1);
    });

    it("describes queues: counts, oldest ready task, workers and limits", async () => {
      await ownedRun("r1");
      await schedule("r1", 0, { now: T0 });
      await schedule("r1", 1, { now: T0 + 100 });
      await schedule("r1", 2, { now: T0 + 200, priority: 5 });
      await schedule("r1", 3, { now: T0 + 900 });
      await lease(T0 + 300, 1, "q", "w2"); // takes r1:2
      await lease(T0 + 400, 0, "q", "w1");
      await one({ type: "setQueueLimits", queue: "limited", concurrency: 3, ratePerSecond: 1.5 });
      const queues = await current().listQueues(T0 + 500);
      assert.deepEqual(queues, [
        {
          queue: "limited",
          queued: 0,
          leased: 0,
          oldestQueuedAgeMs: 0,
          completedLastMinute: 0,
          workers: [],
          concurrency: 3,
          ratePerSecond: 1.5,
        },
        {
          queue: "q",
          queued: 3,
          leased: 1,
          oldestQueuedAgeMs: 500,
          completedLastMinute: 0,
          workers: [
            { workerId: "w1", lastSeenAt: T0 + 400 },
            { workerId: "w2", lastSeenAt: T0 + 300 },
          ],
          concurrency: undefined,
          ratePerSecond: undefined,
        },
      ]);
      assert.deepEqual(await current().describeQueue("q", T0 + 500), queues[1]);
      assert.equal(await current().describeQueue("nope", T0), undefined);
    });
  });

  describe("schedules", () => {
    const sched = (scheduleId: string, over: Partial<ScheduleRecord> = {}): ScheduleRecord => ({
      scheduleId,
      workflow: "wf",
      input: { every: "minute" },
      cron: "* * * * *",
      timezone: "UTC",
      overlap: "skip",
      catchupWindowMs: 60_000,
      paused: false,
      nextFireAt: T0 + 60_000,
      createdAt: T0,
      updatedAt: T0,
      ...over,
    });

    it("creates a schedule once", async () => {
      assert.deepEqual(await one({ type: "createSchedule", schedule: sched("s1") }), {
        ok: true,
        created: true,
      });
      assert.deepEqual(await current().getSchedule("s1"), {
        ...sched("s1"),
        lastFireAt: undefined,
        lastRunId: undefined,
        bufferedFireAt: undefined,
      });
      assert.deepEqual(await one({ type: "createSchedule", schedule: sched("s1", { workflow: "other" }) }), {
        ok: false,
        code: "SCHEDULE_EXISTS",
      });
      assert.equal((await current().getSchedule("s1"))?.workflow, "wf");
      assert.equal(await current().getSchedule("nope"), undefined);
      await one({ type: "createSchedule", schedule: sched("s0", { input: undefined, paused: true }) });
      assert.deepEqual(
        (await current().listSchedules()).map((s) => [s.scheduleId, s.paused, s.input]),
        [
          ["s0", true, undefined],
          ["s1", false, { every: "minute" }],
        ],
      );
    });

    it("dueSchedules: unpaused, due or with a buffered fire, earliest first", async () => {
      await one({ type: "createSchedule", schedule: sched("later", { nextFireAt: T0 + 5_000 }) });
      await one({ type: "createSchedule", schedule: sched("due2", { nextFireAt: T0 + 200 }) });
      await one({ type: "createSchedule", schedule: sched("due1", { nextFireAt: T0 + 100 }) });
      await one({ type: "createSchedule", schedule: sched("paused", { nextFireAt: T0, paused: true }) });
      const due = async (now: number, limit = 10) =>
        (await current().dueSchedules({ now, limit })).map((s) => s.scheduleId);
      assert.deepEqual(await due(T0 + 200), ["due1", "due2"]);
      assert.deepEqual(await due(T0 + 200, 1), ["due1"]);
      assert.deepEqual(await due(T0 + 99), []);
      assert.equal(await current().nextWakeAt(), T0 + 100);
      const advanced = await one({
        type: "advanceSchedule",
        scheduleId: "later",
        expectedNextFireAt: T0 + 5_000,
        expectedBufferedFireAt: null,
        nextFireAt: T0 + 9_000,
        bufferedFireAt: T0 + 4_000,
        now: T0,
      });
      assert.deepEqual(advanced, { ok: true });
      assert.deepEqual(await due(T0), ["later"], "a buffered fire is due whatever the time");
    });

    it("pausing and resuming", async () => {
      await one({ type: "createSchedule", schedule: sched("s1", { nextFireAt: T0 + 10 }) });
      assert.deepEqual(
        await one({ type: "setSchedulePaused", scheduleId: "s1", paused: true, now: T0 + 1 }),
        {
          ok: true,
        },
      );
      let s = await current().getSchedule("s1");
      assert.equal(s?.paused, true);
      assert.equal(s?.nextFireAt, undefined, "a paused schedule has no next fire time");
      assert.equal(s?.updatedAt, T0 + 1);
      assert.deepEqual(await current().dueSchedules({ now: T0 + 100, limit: 5 }), []);
      assert.equal(await current().nextWakeAt(), undefined);
      await one({
        type: "setSchedulePaused",
        scheduleId: "s1",
        paused: false,
        nextFireAt: T0 + 500,
        now: T0 + 2,
      });
      s = await current().getSchedule("s1");
      assert.equal(s?.paused, false);
      assert.equal(s?.nextFireAt, T0 + 500);
      assert.equal(await current().nextWakeAt(), T0 + 500);
      await one({ type: "createSchedule", schedule: sched("p1", { nextFireAt: T0 + 50, paused: true }) });
      assert.equal((await current().getSchedule("p1"))?.nextFireAt, undefined, "created paused: none either");
      assert.deepEqual(await one({ type: "setSchedulePaused", scheduleId: "nope", paused: true, now: T0 }), {
        ok: false,
        code: "SCHEDULE_NOT_FOUND",
      });
    });

    it("advanceSchedule is a compare-and-set: of two nodes that saw one due time, one advances it", async () => {
      await one({ type: "createSchedule", schedule: sched("s1", { nextFireAt: T0 + 60_000 }) });
      const advance = (expectedNextFireAt: number | null, lastRunId: string) =>
        one({
          type: "advanceSchedule",
          scheduleId: "s1",
          expectedNextFireAt,
          expectedBufferedFireAt: null,
          nextFireAt: T0 + 120_000,
          bufferedFireAt: null,
          lastFireAt: T0 + 60_000,
          lastRunId,
          now: T0 + 60_001,
        });
      const [a, b] = await current().write([
        {
          type: "advanceSchedule",
          scheduleId: "s1",
          expectedNextFireAt: T0 + 60_000,
          expectedBufferedFireAt: null,
          nextFireAt: T0 + 120_000,
          bufferedFireAt: null,
          lastFireAt: T0 + 60_000,
          lastRunId: "run-a",
          now: T0 + 60_001,
        },
        {
          type: "advanceSchedule",
          scheduleId: "s1",
          expectedNextFireAt: T0 + 60_000,
          expectedBufferedFireAt: null,
          nextFireAt: T0 + 120_000,
          bufferedFireAt: null,
          lastFireAt: T0 + 60_000,
          lastRunId: "run-b",
          now: T0 + 60_001,
        },
      ]);
      assert.deepEqual([a, b], [{ ok: true }, { ok: false, code: "STALE_SCHEDULE" }]);
      const s = await current().getSchedule("s1");
      assert.equal(s?.nextFireAt, T0 + 120_000);
      assert.equal(s?.lastFireAt, T0 + 60_000);
      assert.equal(s?.lastRunId, "run-a");
      assert.equal(s?.updatedAt, T0 + 60_001);
      assert.deepEqual(await advance(null, "run-c"), { ok: false, code: "STALE_SCHEDULE" });
      // Omitted lastFireAt / lastRunId keep their values.
      await one({
        type: "advanceSchedule",
        scheduleId: "s1",
        expectedNextFireAt: T0 + 120_000,
        expectedBufferedFireAt: null,
        nextFireAt: null,
        bufferedFireAt: null,
        now: T0 + 120_001,
      });
      const after = await current().getSchedule("s1");
      assert.equal(after?.nextFireAt, undefined);
      assert.equal(after?.lastRunId, "run-a");
      assert.deepEqual(await advance(null, "run-d"), { ok: true }, "null compares equal to null");
      assert.deepEqual(
        await one({
          type: "advanceSchedule",
          scheduleId: "nope",
          expectedNextFireAt: null,
          expectedBufferedFireAt: null,
          nextFireAt: 1,
          bufferedFireAt: null,
          now: T0,
        }),
        { ok: false, code: "STALE_SCHEDULE" },
      );
    });

    it("deleteSchedule", async () => {
      await one({ type: "createSchedule", schedule: sched("s1") });
      assert.deepEqual(await one({ type: "deleteSchedule", scheduleId: "s1" }), { ok: true });
      assert.equal(await current().getSchedule("s1"), undefined);
      assert.deepEqual(await one({ type: "deleteSchedule", scheduleId: "s1" }), {
        ok: false,
        code: "SCHEDULE_NOT_FOUND",
      });
    });
  });

  describe("definitions", () => {
    const put = (name: string, source: string, now = T0) =>
      one({ type: "putDefinition", name, format: "yaml", source, checksum: `sum:${source}`, now });

    it("versions a definition per name; the same source again is not a new version", async () => {
      assert.deepEqual(await put("order", "steps: [a]"), { ok: true, created: true, version: 1 });
      assert.deepEqual(await put("order", "steps: [a]", T0 + 1), { ok: true, created: false, version: 1 });
      assert.deepEqual(await put("order", "steps: [a, b]", T0 + 2), { ok: true, created: true, version: 2 });
      assert.deepEqual(await put("order", "steps: [a]", T0 + 3), { ok: true, created: true, version: 3 });
      assert.deepEqual(await put("billing", "steps: [x]"), { ok: true, created: true, version: 1 });
      assert.deepEqual(await current().getDefinition("order"), {
        name: "order",
        version: 3,
        format: "yaml",
        source: "steps: [a]",
        checksum: "sum:steps: [a]",
        createdAt: T0 + 3,
      });
      assert.equal((await current().getDefinition("order", 2))?.source, "steps: [a, b]");
      assert.equal(await current().getDefinition("order", 9), undefined);
      assert.equal(await current().getDefinition("nope"), undefined);
      assert.deepEqual(
        (await current().listDefinitions()).map((d) => `${d.name}@${d.version}`),
        ["billing@1", "order@1", "order@2", "order@3"],
      );
    });

    it("keeps the source text exactly", async () => {
      const source = 'name: x\n# comment  \nsteps:\n  - id: a\t\n  - id: "é"\n';
      await put("x", source);
      assert.equal((await current().getDefinition("x"))?.source, source);
    });
  });
}
