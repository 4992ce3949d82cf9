// End to end over real HTTP with real worker processes: a TypeScript worker (src/client/worker.ts) killed
// with SIGKILL mid-task, and the Python worker of examples/ (standard library only).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { TestClock } from "../../src/testing/test-clock.js";
import { JsonLineChild, startTsWorker } from "./children.js";
import { eventually, type ServerFixture, serverFixture } from "./helpers.js";

const children: JsonLineChild[] = [];
const fixtures: ServerFixture[] = [];
after(async () => {
  await Promise.all(children.map((c) => c.stop()));
  for (const f of fixtures) await f.close();
});

describe("a worker killed mid-task (engine on an injected clock)", () => {
  test("the task goes to another worker after the heartbeat timeout, the dead lease's completion is refused, the run completes once", async () => {
    const clock = new TestClock();
    const f = await serverFixture({ engineOptions: { clock } });
    fixtures.push(f);
    const heartbeatTimeoutMs = 1_000;
    const finishes: string[] = [];
    f.server.engine.events.on("run:finished", ({ runId, status }) => finishes.push(`${runId} ${status}`));

    const a = startTsWorker(f.server.url, "e2e", "worker-a");
    children.push(a);
    await a.waitFor((l) => l.event === "ready", "worker A ready");
    const releaseFile = join(f.dir, "release-b");
    const runId = "e2e-1";
    await f.http.start(
      "task",
      { queue: "e2e", heartbeatTimeoutMs, maxAttempts: 3, data: { blockFirstAttempt: true, releaseFile } },
      { runId },
    );
    const leasedA = await a.waitFor((l) => l.event === "leased", "worker A to lease the task");
    assert.equal(leasedA.taskId, `${runId}:0`);
    assert.equal(leasedA.attempt, 1);

    const b = startTsWorker(f.server.url, "e2e", "worker-b");
    children.push(b);
    await b.waitFor((l) => l.event === "ready", "worker B ready");
    await eventually(async () => {
      const q = await f.http.describeQueue("e2e");
      return q.workers.some((w) => w.workerId === "worker-b");
    }, "worker B to poll");

    a.kill("SIGKILL");
    assert.equal((await a.exited).signal, "SIGKILL");

    // Not before the heartbeat timeout: the task stays leased to the dead worker.
    await clock.advance(heartbeatTimeoutMs - 1);
    let queue = await f.http.describeQueue("e2e");
    assert.deepEqual([queue.leased, queue.queued], [1, 0], "still leased to worker A");
    assert.equal(
      b.lines.some((l) => l.event === "leased"),
      false,
      "worker B got nothing yet",
    );

    // After it (plus one sweep interval of the engine): taken back and handed to worker B.
    await clock.advance(2_000);
    const leasedB = await b.waitFor((l) => l.event === "leased", "worker B to get the task");
    assert.equal(leasedB.taskId, leasedA.taskId);
    assert.equal(leasedB.idempotencyKey, leasedA.idempotencyKey, "the same idempotency key on every attempt");
    assert.equal(leasedB.attempt, 2);
    assert.ok(leasedB.leaseToken > leasedA.leaseToken, "a new fencing token");

    // The dead worker's late reports are refused while worker B holds the task.
    const path = `/api/v1/tasks/${encodeURIComponent(leasedA.taskId)}`;
    const late = await f.raw.post(`${path}/complete`, { leaseToken: leasedA.leaseToken, result: "late" });
    assert.equal(late.status, 409);
    assert.equal(late.json.code, "TASK_LEASE_EXPIRED");
    const lateFail = await f.raw.post(`${path}/fail`, {
      leaseToken: leasedA.leaseToken,
      error: { message: "late" },
    });
    assert.equal(lateFail.status, 409);
    assert.equal(lateFail.json.code, "TASK_LEASE_EXPIRED");
    const lateBeat = await f.raw.post(`${path}/heartbeat`, { leaseToken: leasedA.leaseToken });
    assert.equal(lateBeat.status, 409);

    writeFileSync(releaseFile, "");
    await eventually(
      async () => (await f.http.describe(runId)).status === "completed",
      "the run to complete",
    );
    const run = await f.http.describe(runId);
    assert.deepEqual(run.output, { by: "worker-b", attempt: 2, key: `${runId}:0` });

    // And after the run completed.
    const later = await f.raw.post(`${path}/complete`, { leaseToken: leasedA.leaseToken, result: "late" });
    assert.equal(later.status, 409);
    assert.equal(later.json.code, "TASK_LEASE_EXPIRED");

    const history = await f.http.history(runId);
    const taskEntries = history.journal.filter((e) => e.kind === "task");
    assert.equal(taskEntries.length, 1);
    assert.equal(taskEntries[0].status, "completed");
    assert.equal(taskEntries[0].attempt, 2);
    assert.deepEqual(
      history.attempts.map((x) => [x.seq, x.attempt, x.error.code]),
      [[0, 1, "TASK_TIMEOUT"]],
      "the first attempt is recorded as timed out",
    );
    assert.match(history.attempts[0].error.message, /no completion or heartbeat before its lease ran out/);
    queue = await f.http.describeQueue("e2e");
    assert.deepEqual([queue.leased, queue.queued], [0, 0]);
    assert.deepEqual(
      finishes.filter((x) => x.startsWith(`${runId} `)),
      [`${runId} completed`],
      "the run finished once",
    );

    await b.stop();
    assert.equal((await b.exited).code, 0);
    const stopped = await b.waitFor((l) => l.event === "stopped", "worker B's stats");
    assert.deepEqual(stopped.stats, { completed: 1, failed: 0, lost: 0 });
  });
});

describe("the Python worker (standard library only)", () => {
  test("completes the tasks of running workflows, and with --fail-first shows a retry", async () => {
    const f = await serverFixture();
    fixtures.push(f);
    const runIds = ["py-1", "py-2"];
    for (const [i, runId] of runIds.entries()) {
      await f.http.start(
        "task",
        { queue: "py", data: { orderId: `o-${i}` }, maxAttempts: 3, heartbeatTimeoutMs: 5_000 },
        { runId },
      );
    }
    const py = new JsonLineChild("python3", [
      "examples/workers/python/worker.py",
      "--url",
      f.server.url,
      "--queue",
      "py",
      "--worker-id",
      "py-worker",
      "--max-tasks",
      "4",
      "--fail-first",
    ]);
    children.push(py);
    const exit = await py.waitForExit(30_000);
    assert.equal(exit.code, 0, py.stderr.join(""));
    assert.deepEqual(py.lines.at(-1), { event: "stopped", handled: 4 });
    const failed = py.lines.filter((l) => l.event === "failed");
    const completed = py.lines.filter((l) => l.event === "completed");
    assert.equal(failed.length, 2);
    assert.ok(
      failed.every((l) => l.status === 200 && l.willRetry === true),
      JSON.stringify(failed),
    );
    assert.equal(completed.length, 2);
    assert.ok(completed.every((l) => l.status === 200));

    for (const [i, runId] of runIds.entries()) {
      const run = await f.http.result(runId, { timeoutMs: 10_000 });
      assert.equal(run.status, "completed");
      assert.deepEqual(run.output, { label: `LBL-o-${i}`, key: `${runId}:0`, by: "python" });
      const history = await f.http.history(runId);
      assert.deepEqual(
        history.attempts.map((a) => [a.attempt, a.error.message]),
        [[1, "first attempt fails on purpose"]],
      );
      assert.equal(history.journal.find((e) => e.kind === "task")?.attempt, 2);
    }
    const queue = await f.http.describeQueue("py");
    assert.ok(queue.workers.some((w) => w.workerId === "py-worker"));
  });
});
