// Queues and the worker protocol over real HTTP: poll, heartbeat, complete, fail, fencing, limits,
// priority, long-poll wake-up, a worker hanging up mid-poll, and draining.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Agent, request } from "undici";
import { LocalClient } from "../../src/client/local-client.js";
import { createEngine } from "../../src/runtime/engine.js";
import { buildServer, startDraining } from "../../src/server/app.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { TestClock } from "../../src/testing/test-clock.js";
import { eventually, type ServerFixture, serverFixture, type TaskWorkflowInput } from "./helpers.js";

let f: ServerFixture;
before(async () => {
  f = await serverFixture();
});
after(async () => {
  await f.close();
});

const taskPath = (taskId: string, action: string) => `/api/v1/tasks/${encodeURIComponent(taskId)}/${action}`;

async function startTask(runId: string, input: TaskWorkflowInput) {
  await f.http.start("task", input, { runId });
  // The task exists once the run reached its wait.
  await eventually(async () => (await f.http.describe(runId)).status === "waiting", `${runId} to wait`);
}

async function poll(queue: string, body: Record<string, unknown> = {}) {
  const res = await f.raw.post(`/api/v1/queues/${encodeURIComponent(queue)}/poll`, {
    workerId: "w1",
    ...body,
  });
  assert.equal(res.status, 200, res.text);
  return res.json.tasks as any[];
}

describe("queues", () => {
  test("list and describe queues; an unknown queue is 404 QUEUE_NOT_FOUND, a bad name 400", async () => {
    assert.deepEqual((await f.raw.get("/api/v1/queues")).json, { queues: [] });
    await startTask("q-list-1", { queue: "q-list", data: { n: 1 } });
    const list = await f.raw.get("/api/v1/queues");
    assert.equal(list.status, 200);
    const info = list.json.queues.find((q: { queue: string }) => q.queue === "q-list");
    assert.equal(info.queued, 1);
    assert.equal(info.leased, 0);
    assert.deepEqual(info.workers, []);
    const one = await f.raw.get("/api/v1/queues/q-list");
    assert.equal(one.status, 200);
    assert.equal(one.json.queue, "q-list");
    const { oldestQueuedAgeMs, ...viaClient } = await f.http.describeQueue("q-list");
    assert.ok(oldestQueuedAgeMs >= one.json.oldestQueuedAgeMs, "the task has waited longer since");
    const { oldestQueuedAgeMs: _, ...viaHttp } = one.json;
    assert.deepEqual(viaClient, viaHttp);

    const missing = await f.raw.get("/api/v1/queues/never-used");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "QUEUE_NOT_FOUND");
    const bad = await f.raw.get(`/api/v1/queues/${encodeURIComponent("bad name!")}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, "INVALID_ARGUMENT");

    const [task] = await poll("q-list");
    await f.raw.post(taskPath(task.taskId, "complete"), { leaseToken: task.leaseToken, result: null });
    assert.equal((await f.http.result("q-list-1")).status, "completed");
  });

  test("limits: concurrency caps leased tasks, ratePerSecond the lease rate; PUT replaces both", async () => {
    const set = await f.raw.send("PUT", "/api/v1/queues/q-lim/limits", { json: { concurrency: 1 } });
    assert.equal(set.status, 200);
    assert.equal(set.json.queue, "q-lim");
    assert.equal(set.json.concurrency, 1);
    assert.equal(set.json.ratePerSecond, undefined);
    await startTask("q-lim-1", { queue: "q-lim" });
    await startTask("q-lim-2", { queue: "q-lim" });
    assert.equal((await poll("q-lim", { maxTasks: 10 })).length, 1, "one at a time");
    assert.equal((await poll("q-lim", { maxTasks: 10 })).length, 0, "the limit holds while one is leased");

    await f.http.setQueueLimits("q-lim", { ratePerSecond: 0.001 });
    const info = await f.http.describeQueue("q-lim");
    assert.equal(info.concurrency, undefined, "PUT replaced the concurrency limit");
    assert.equal(info.ratePerSecond, 0.001);
    assert.equal((await poll("q-lim", { maxTasks: 10 })).length, 0, "no token in the bucket yet");
    const cleared = await f.raw.send("PUT", "/api/v1/queues/q-lim/limits", {
      json: { concurrency: null, ratePerSecond: null },
    });
    assert.equal(cleared.status, 200);
    assert.equal(cleared.json.ratePerSecond, undefined);
    assert.equal(
      (await poll("q-lim", { maxTasks: 10 })).length,
      1,
      "the second task, now that no limit holds",
    );

    for (const body of [
      { concurrency: 0 },
      { concurrency: 1.5 },
      { concurrency: "2" },
      { ratePerSecond: 0 },
      { ratePerSecond: -1 },
      { other: 1 },
    ]) {
      const res = await f.raw.send("PUT", "/api/v1/queues/q-lim/limits", { json: body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.code, "INVALID_ARGUMENT");
    }
  });
});

describe("the worker protocol", () => {
  test("poll leases a task with its key and input; heartbeat extends it; complete resumes the run", async () => {
    await startTask("wp-1", { queue: "wp", data: { order: 17 }, heartbeatTimeoutMs: 30_000 });
    const tasks = await poll("wp", { maxTasks: 5 });
    assert.equal(tasks.length, 1);
    const [task] = tasks;
    assert.equal(task.taskId, "wp-1:0");
    assert.equal(task.idempotencyKey, "wp-1:0");
    assert.equal(task.runId, "wp-1");
    assert.equal(task.name, "work");
    assert.equal(task.queue, "wp");
    assert.equal(task.attempt, 1);
    assert.deepEqual(task.input, { order: 17 });
    assert.equal(task.heartbeatTimeoutMs, 30_000);
    assert.ok(task.deadlineAt >= task.leaseExpiresAt);
    assert.deepEqual(await poll("wp"), [], "leased to one worker at a time");

    const beat = await f.raw.post(taskPath(task.taskId, "heartbeat"), { leaseToken: task.leaseToken });
    assert.equal(beat.status, 200);
    assert.equal(beat.json.cancelRequested, false);
    assert.ok(beat.json.leaseExpiresAt >= task.leaseExpiresAt);

    const stale = await f.raw.post(taskPath(task.taskId, "complete"), { leaseToken: task.leaseToken + 1 });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.code, "TASK_LEASE_EXPIRED");

    const done = await f.raw.post(taskPath(task.taskId, "complete"), {
      leaseToken: task.leaseToken,
      result: { label: "L-17" },
    });
    assert.equal(done.status, 200);
    assert.deepEqual(done.json, { ok: true });
    const run = await f.http.result("wp-1");
    assert.equal(run.status, "completed");
    assert.deepEqual(run.output, { label: "L-17" });

    for (const [action, body] of [
      ["complete", { leaseToken: task.leaseToken, result: 2 }],
      ["fail", { leaseToken: task.leaseToken, error: { message: "x" } }],
      ["heartbeat", { leaseToken: task.leaseToken }],
    ] as const) {
      const res = await f.raw.post(taskPath(task.taskId, action), body);
      assert.equal(res.status, 409, `${action} after completion`);
      assert.equal(res.json.code, "TASK_LEASE_EXPIRED");
    }
    const queue = await f.http.describeQueue("wp");
    assert.ok(
      queue.workers.some((w) => w.workerId === "w1"),
      "the worker is listed",
    );
  });

  test("an unknown task is 404 TASK_NOT_FOUND for heartbeat, complete and fail", async () => {
    for (const [action, body] of [
      ["heartbeat", { leaseToken: 1 }],
      ["complete", { leaseToken: 1, result: 1 }],
      ["fail", { leaseToken: 1, error: { message: "x" } }],
    ] as const) {
      const res = await f.raw.post(taskPath("no-such-run:0", action), body);
      assert.equal(res.status, 404, action);
      assert.equal(res.json.code, "TASK_NOT_FOUND");
      assert.equal(res.json.details.taskId, "no-such-run:0");
    }
  });

  test("fail: retryable goes back to the queue (retryAfterMs is a floor); retryable false fails the step", async () => {
    await startTask("wf-1", { queue: "wf", maxAttempts: 3 });
    const [t1] = await poll("wf");
    const r1 = await f.raw.post(taskPath(t1.taskId, "fail"), {
      leaseToken: t1.leaseToken,
      error: { message: "printer jam", code: "JAM", details: { tray: 2 } },
    });
    assert.equal(r1.status, 200);
    assert.deepEqual(r1.json, { willRetry: true });
    const [t2] = await poll("wf");
    assert.equal(t2.attempt, 2);
    assert.ok(t2.leaseToken > t1.leaseToken);

    const r2 = await f.raw.post(taskPath(t2.taskId, "fail"), {
      leaseToken: t2.leaseToken,
      error: { message: "later please", retryAfterMs: 3_600_000 },
    });
    assert.deepEqual(r2.json, { willRetry: true });
    assert.deepEqual(await poll("wf"), [], "not before retryAfterMs");
    const queue = await f.http.describeQueue("wf");
    assert.deepEqual([queue.queued, queue.leased, queue.oldestQueuedAgeMs], [1, 0, 0]);

    await startTask("wf-2", { queue: "wf2", maxAttempts: 3 });
    const [u1] = await poll("wf2");
    const terminal = await f.raw.post(taskPath(u1.taskId, "fail"), {
      leaseToken: u1.leaseToken,
      error: { message: "address invalid", code: "BAD_ADDRESS", retryable: false },
    });
    assert.deepEqual(terminal.json, { willRetry: false });
    const run = await f.http.result("wf-2");
    assert.equal(run.status, "failed");
    assert.match(run.error!.message, /address invalid/);
    const history = await f.http.history("wf-1");
    assert.deepEqual(
      history.attempts.map((a) => [a.attempt, a.error.message, a.error.code]),
      [
        [1, "printer jam", "JAM"],
        [2, "later please", undefined],
      ],
    );
    assert.deepEqual(history.attempts[0].error.details, { tray: 2 });
  });

  test("a long failure message is cut, not refused", async () => {
    await startTask("wl-1", { queue: "wl", maxAttempts: 1 });
    const [task] = await poll("wl");
    const res = await f.raw.post(taskPath(task.taskId, "fail"), {
      leaseToken: task.leaseToken,
      error: { message: "m".repeat(50_000) },
    });
    assert.equal(res.status, 200);
    const history = await f.http.history("wl-1");
    assert.equal(history.attempts[0].error.message.length, 10_001);
  });

  test("higher priority first", async () => {
    await startTask("wprio-low", { queue: "wprio", priority: 0 });
    await startTask("wprio-high", { queue: "wprio", priority: 5 });
    const [first] = await poll("wprio");
    assert.equal(first.runId, "wprio-high");
    const [second] = await poll("wprio");
    assert.equal(second.runId, "wprio-low");
  });

  test("a heartbeat tells the worker its run was cancelled", async () => {
    await startTask("wc-1", { queue: "wc" });
    const [task] = await poll("wc");
    await f.http.cancel("wc-1");
    await eventually(async () => (await f.http.describe("wc-1")).status === "cancelled", "the cancel");
    const beat = await f.raw.post(taskPath(task.taskId, "heartbeat"), { leaseToken: task.leaseToken });
    assert.equal(beat.status, 200);
    assert.equal(beat.json.cancelRequested, true);
  });

  test("a long-poll waits for a task and answers as soon as one is scheduled", async () => {
    const t0 = Date.now();
    const waiting = poll("wlong", { waitMs: 20_000, workerId: "long-poller" });
    await eventually(async () => {
      const q = await f.http.listQueues();
      return q.some((x) => x.queue === "wlong" && x.workers.some((w) => w.workerId === "long-poller"));
    }, "the poll to arrive");
    await f.http.start("task", { queue: "wlong" }, { runId: "wlong-1" });
    const tasks = await waiting;
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0].runId, "wlong-1");
    assert.ok(Date.now() - t0 < 15_000, "answered before the wait was up");
    const empty = await poll("wlong-empty", { waitMs: 50 });
    assert.deepEqual(empty, []);
  });

  test("a worker that hangs up mid-poll does not keep the task: it stays queued or is handed back", async () => {
    const agent = new Agent();
    const abort = new AbortController();
    const hanging = request(`${f.server.url}/api/v1/queues/whang/poll`, {
      method: "POST",
      dispatcher: agent,
      signal: abort.signal,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workerId: "leaver", waitMs: 30_000 }),
    }).catch((error: unknown) => error);
    await eventually(async () => {
      const q = await f.http.listQueues();
      return q.some((x) => x.queue === "whang");
    }, "the poll to arrive");
    abort.abort();
    assert.ok((await hanging) instanceof Error);
    await agent.close();
    await f.http.start("task", { queue: "whang" }, { runId: "whang-1" });
    const [task] = await poll("whang", { waitMs: 5_000, workerId: "stayer" });
    assert.equal(task?.runId, "whang-1", "another worker gets the task at once");
    if (task.attempt === 2) {
      const history = await f.http.history("whang-1");
      assert.equal(history.attempts[0].error.code, "WORKER_GONE");
    } else {
      assert.equal(task.attempt, 1);
    }
  });

  test("bad bodies are 400 INVALID_ARGUMENT", async () => {
    const cases: [string, unknown][] = [
      ["/api/v1/queues/wbad/poll", {}],
      ["/api/v1/queues/wbad/poll", { workerId: "" }],
      ["/api/v1/queues/wbad/poll", { workerId: "w", maxTasks: 0 }],
      ["/api/v1/queues/wbad/poll", { workerId: "w", maxTasks: 101 }],
      ["/api/v1/queues/wbad/poll", { workerId: "w", waitMs: 60_001 }],
      ["/api/v1/queues/wbad/poll", { workerId: "w", extra: 1 }],
      [taskPath("x:0", "heartbeat"), {}],
      [taskPath("x:0", "heartbeat"), { leaseToken: "1" }],
      [taskPath("x:0", "heartbeat"), { leaseToken: -1 }],
      [taskPath("x:0", "complete"), { result: 1 }],
      [taskPath("x:0", "fail"), { leaseToken: 1 }],
      [taskPath("x:0", "fail"), { leaseToken: 1, error: {} }],
      [taskPath("x:0", "fail"), { leaseToken: 1, error: { message: "m", retryable: "no" } }],
      [taskPath("x:0", "fail"), { leaseToken: 1, error: { message: "m", retryAfterMs: -5 } }],
      [taskPath("x:0", "fail"), { leaseToken: 1, error: { message: "m", extra: 1 } }],
    ];
    for (const [path, body] of cases) {
      const res = await f.raw.post(path, body);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)} -> ${res.text}`);
      assert.equal(res.json.code, "INVALID_ARGUMENT");
    }
    assert.equal((await f.raw.post("/api/v1/queues/wbad/poll", undefined)).status, 400, "no body");
  });
});

describe("timeouts (engine on an injected clock)", () => {
  test("heartbeats extend a lease up to start-to-close, no further; then the task is retried", async () => {
    const clock = new TestClock();
    const g = await serverFixture({ engineOptions: { clock } });
    try {
      const t0 = clock.now();
      await g.http.start(
        "task",
        { queue: "wt", heartbeatTimeoutMs: 1_000, startToCloseMs: 2_500, maxAttempts: 2 },
        { runId: "wt-1" },
      );
      await eventually(async () => (await g.http.describe("wt-1")).status === "waiting", "the task");
      const [task] = (await g.raw.post("/api/v1/queues/wt/poll", { workerId: "w" })).json.tasks;
      assert.deepEqual([task.leaseExpiresAt, task.deadlineAt], [t0 + 1_000, t0 + 2_500]);
      const beat = () =>
        g.raw.post(`/api/v1/tasks/${encodeURIComponent(task.taskId)}/heartbeat`, {
          leaseToken: task.leaseToken,
        });
      await clock.advance(900);
      assert.equal((await beat()).json.leaseExpiresAt, t0 + 1_900);
      await clock.advance(900);
      assert.equal((await beat()).json.leaseExpiresAt, t0 + 2_500, "capped at start-to-close");
      await clock.advance(900);
      const late = await beat();
      assert.equal(late.status, 409);
      assert.equal(late.json.code, "TASK_LEASE_EXPIRED");
      await clock.advance(1_000);
      const [again] = (await g.raw.post("/api/v1/queues/wt/poll", { workerId: "w2" })).json.tasks;
      assert.equal(again?.attempt, 2);
      const history = await g.http.history("wt-1");
      assert.equal(history.attempts[0].error.code, "TASK_TIMEOUT");
    } finally {
      await g.close();
    }
  });

  test("a task no worker picks up within schedule-to-start fails its run with TASK_TIMEOUT", async () => {
    const clock = new TestClock();
    const g = await serverFixture({ engineOptions: { clock } });
    try {
      await g.http.start("task", { queue: "wsts", scheduleToStartMs: 5_000 }, { runId: "wsts-1" });
      await eventually(async () => (await g.http.describe("wsts-1")).status === "waiting", "the task");
      await clock.advance(4_000);
      assert.equal((await g.http.describe("wsts-1")).status, "waiting", "not before the timeout");
      await clock.advance(2_000);
      await eventually(async () => (await g.http.describe("wsts-1")).status === "failed", "the timeout");
      const run = await g.http.describe("wsts-1");
      assert.match(run.error!.message, /schedule-to-start/);
      const queue = await g.http.describeQueue("wsts");
      assert.deepEqual([queue.queued, queue.leased], [0, 0]);
    } finally {
      await g.close();
    }
  });
});

describe("draining and a server without an engine", () => {
  test("draining ends a waiting long-poll at once; new polls get 503 ENGINE_STOPPED", async () => {
    const g = await serverFixture();
    try {
      const t0 = Date.now();
      const waiting = g.raw.post("/api/v1/queues/wdrain/poll", { workerId: "w", waitMs: 30_000 });
      await eventually(async () => (await g.http.listQueues()).some((q) => q.queue === "wdrain"), "the poll");
      startDraining(g.server.app);
      const res = await waiting;
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { tasks: [] });
      assert.ok(Date.now() - t0 < 10_000);
      const again = await g.raw.post("/api/v1/queues/wdrain/poll", { workerId: "w", waitMs: 30_000 });
      assert.equal(again.status, 503);
      assert.equal(again.json.code, "ENGINE_STOPPED");
    } finally {
      await g.close();
    }
  });

  test("the worker protocol needs an engine in the process: 503 SERVER_UNAVAILABLE without one", async () => {
    const store = new SqliteStore({ path: `${f.dir}/client-only.db` });
    const engine = createEngine({ store, execute: false });
    await engine.start();
    const app = buildServer({ client: new LocalClient(engine), dashboardDir: false });
    try {
      const res = await app.inject({
        method: "POST",
        url: "/api/v1/queues/x/poll",
        payload: { workerId: "w" },
      });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().code, "SERVER_UNAVAILABLE");
      const events = await app.inject({ method: "GET", url: "/api/v1/events" });
      assert.equal(events.statusCode, 503);
    } finally {
      await app.close();
      await engine.stop();
      await store.close();
    }
  });
});
