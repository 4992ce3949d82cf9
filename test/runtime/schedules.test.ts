import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { createEngine } from "../../src/runtime/engine.js";
import { workflow } from "../../src/runtime/workflow.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { eventually, type Harness, harness } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

// TestClock starts at 2026-01-01T00:00:00Z.
const tick = workflow("tick", async (ctx, input: { hold?: boolean } | undefined) => {
  if (input?.hold) await ctx.waitForSignal("release");
  return ctx.now();
});

async function runIds(h: Harness) {
  return (await h.client.list({ workflow: "tick", limit: 100 })).runs.map((r) => r.runId).sort();
}

describe("schedules", () => {
  it("fires once per due time with a deterministic run id", async () => {
    h = await harness([tick]);
    const s = await h.engine.schedules.create({
      scheduleId: "every5",
      cron: "*/5 * * * *",
      workflow: "tick",
    });
    assert.equal(s.nextFireAt, Date.UTC(2026, 0, 1, 0, 5));
    await h.clock.advance(4 * 60_000);
    assert.deepEqual(await runIds(h), []);
    await h.clock.advance(60_000);
    await eventually(async () => (await runIds(h)).length === 1, "first fire");
    await h.clock.advance(5 * 60_000);
    await eventually(async () => (await runIds(h)).length === 2, "second fire");
    assert.deepEqual(await runIds(h), ["every5@2026-01-01T00:05:00.000Z", "every5@2026-01-01T00:10:00.000Z"]);
    const after = await h.engine.schedules.get("every5");
    assert.equal(after.lastRunId, "every5@2026-01-01T00:10:00.000Z");
    assert.equal(after.nextFireAt, Date.UTC(2026, 0, 1, 0, 15));
  });

  it("skips a fire while the previous run is still going (overlap skip)", async () => {
    h = await harness([tick]);
    await h.engine.schedules.create({
      scheduleId: "s",
      cron: "* * * * *",
      workflow: "tick",
      input: { hold: true },
    });
    await h.clock.advance(60_000);
    await eventually(async () => (await runIds(h)).length === 1, "first fire");
    await h.clock.advance(60_000);
    await h.clock.advance(60_000);
    assert.equal((await runIds(h)).length, 1, "fires skipped while the first run waits");
    await h.client.signal("s@2026-01-01T00:01:00.000Z", "release");
    await h.client.result("s@2026-01-01T00:01:00.000Z");
    await h.clock.advance(60_000);
    await eventually(async () => (await runIds(h)).length === 2, "fire after the run ended");
  });

  it("buffers one fire while running (overlap buffer_one) and starts it when the run ends", async () => {
    h = await harness([tick]);
    await h.engine.schedules.create({
      scheduleId: "b",
      cron: "* * * * *",
      workflow: "tick",
      input: { hold: true },
      overlap: "buffer_one",
    });
    await h.clock.advance(60_000);
    await eventually(async () => (await runIds(h)).length === 1, "first fire");
    await h.clock.advance(60_000);
    await h.clock.advance(60_000);
    assert.equal((await runIds(h)).length, 1);
    assert.equal((await h.engine.schedules.get("b")).bufferedFireAt, Date.UTC(2026, 0, 1, 0, 3));
    await h.client.signal("b@2026-01-01T00:01:00.000Z", "release");
    await h.client.result("b@2026-01-01T00:01:00.000Z");
    await h.clock.advance(1_000);
    await eventually(async () => (await runIds(h)).includes("b@2026-01-01T00:03:00.000Z"), "buffered fire");
  });

  it("catches up missed fires within the window after downtime", async () => {
    h = await harness([tick]);
    await h.engine.schedules.create({
      scheduleId: "all",
      cron: "* * * * *",
      workflow: "tick",
      overlap: "allow_all",
      catchupWindowMs: 3 * 60_000,
    });
    await h.engine.stop({ graceMs: 0 });
    await h.clock.advance(10 * 60_000); // ten fires missed while no engine ran
    await h.restart();
    await h.clock.advance(1_000);
    await eventually(async () => (await runIds(h)).length === 4, "catch-up fires");
    assert.deepEqual(await runIds(h), [
      "all@2026-01-01T00:07:00.000Z",
      "all@2026-01-01T00:08:00.000Z",
      "all@2026-01-01T00:09:00.000Z",
      "all@2026-01-01T00:10:00.000Z",
    ]);
  });

  it("pause, resume, trigger, delete, and bad specs", async () => {
    h = await harness([tick]);
    await h.engine.schedules.create({ scheduleId: "p", cron: "* * * * *", workflow: "tick" });
    await h.engine.schedules.pause("p");
    assert.equal((await h.engine.schedules.get("p")).nextFireAt, undefined, "no next fire while paused");
    assert.deepEqual(
      (await h.engine.schedules.list()).map((s) => [s.scheduleId, s.nextFireAt]),
      [["p", undefined]],
    );
    await h.clock.advance(3 * 60_000);
    assert.equal((await runIds(h)).length, 0);
    await h.engine.schedules.resume("p");
    assert.equal((await h.engine.schedules.get("p")).nextFireAt, Date.UTC(2026, 0, 1, 0, 4));
    const { runId } = await h.engine.schedules.trigger("p");
    assert.equal((await h.client.result(runId)).status, "completed");
    const triggered = await h.engine.schedules.get("p");
    assert.equal(triggered.lastRunId, runId, "a manual trigger is the schedule's last run");
    assert.equal(triggered.lastFireAt, Date.UTC(2026, 0, 1, 0, 3));
    assert.equal(triggered.nextFireAt, Date.UTC(2026, 0, 1, 0, 4), "rhythm unchanged");
    await h.engine.schedules.delete("p");
    await assert.rejects(h.engine.schedules.get("p"), { code: "SCHEDULE_NOT_FOUND" });
    await assert.rejects(h.engine.schedules.pause("p"), { code: "SCHEDULE_NOT_FOUND" });
    await assert.rejects(h.engine.schedules.create({ scheduleId: "x", cron: "not cron", workflow: "tick" }), {
      code: "INVALID_CRON",
    });
    await assert.rejects(
      h.engine.schedules.create({
        scheduleId: "x",
        cron: "* * * * *",
        workflow: "tick",
        timezone: "Mars/Base",
      }),
      { code: "INVALID_CRON" },
    );
    await assert.rejects(
      h.engine.schedules.create({ scheduleId: "x", cron: "* * * * *", workflow: "nope" }),
      { code: "WORKFLOW_NOT_FOUND" },
    );
    await h.engine.schedules.create({ scheduleId: "dup", cron: "* * * * *", workflow: "tick" });
    await assert.rejects(
      h.engine.schedules.create({ scheduleId: "dup", cron: "* * * * *", workflow: "tick" }),
      { code: "SCHEDULE_ALREADY_EXISTS" },
    );
  });

  it("a schedule created paused has no next fire until resumed; a trigger while paused is its last run", async () => {
    h = await harness([tick]);
    const created = await h.engine.schedules.create({
      scheduleId: "cp",
      cron: "*/10 * * * *",
      workflow: "tick",
      paused: true,
    });
    assert.equal(created.nextFireAt, undefined);
    assert.equal((await h.engine.schedules.get("cp")).nextFireAt, undefined);
    const { runId } = await h.engine.schedules.trigger("cp");
    assert.equal((await h.client.result(runId)).status, "completed");
    const s = await h.engine.schedules.get("cp");
    assert.deepEqual([s.paused, s.nextFireAt, s.lastRunId], [true, undefined, runId]);
    await h.clock.advance(25 * 60_000);
    assert.deepEqual(await runIds(h), [runId], "still paused: no timed fire");
    await h.engine.schedules.resume("cp");
    assert.equal((await h.engine.schedules.get("cp")).nextFireAt, Date.UTC(2026, 0, 1, 0, 30));
  });

  it("a manually triggered run still going holds back the next timed fire (overlap skip)", async () => {
    h = await harness([tick]);
    await h.engine.schedules.create({
      scheduleId: "m",
      cron: "* * * * *",
      workflow: "tick",
      input: { hold: true },
    });
    const { runId } = await h.engine.schedules.trigger("m");
    await h.clock.advance(60_000);
    await h.clock.advance(60_000);
    assert.deepEqual(await runIds(h), [runId], "the timed fires were skipped while the manual run waits");
    assert.equal((await h.engine.schedules.get("m")).lastRunId, runId);
  });

  it("evaluates cron in the schedule's time zone", async () => {
    h = await harness([tick]);
    const s = await h.engine.schedules.create({
      scheduleId: "ams",
      cron: "0 9 * * *",
      timezone: "Europe/Amsterdam",
      workflow: "tick",
    });
    assert.equal(s.nextFireAt, Date.UTC(2026, 0, 1, 8, 0), "09:00 in Amsterdam is 08:00 UTC in winter");
  });

  it("two engines on one database start each due time once", async () => {
    h = await harness([tick]);
    await h.engine.schedules.create({
      scheduleId: "shared",
      cron: "* * * * *",
      workflow: "tick",
      overlap: "allow_all",
    });
    const storeB = new SqliteStore({ path: h.dbPath });
    const engineB = createEngine({ store: storeB, clock: h.clock, nodeId: "B", workflows: [tick] });
    await engineB.start();
    try {
      for (let i = 0; i < 3; i++) await h.clock.advance(60_000);
      await eventually(async () => (await runIds(h)).length === 3, "three fires");
      await h.clock.advance(1_000);
      assert.equal((await runIds(h)).length, 3);
    } finally {
      await engineB.stop();
      await storeB.close();
    }
  });
});
