// Cron schedules over real HTTP, with the engine on an injected clock: create, list, describe, pause,
// resume, delete, trigger; time zones; overlap policies; catch-up of fires missed while no server ran.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { HttpClient } from "../../src/client/http-client.js";
import type { ScheduleRecord } from "../../src/core/types.js";
import { startServer } from "../../src/server/start.js";
import { TestClock } from "../../src/testing/test-clock.js";
import { eventually, gate, type ServerFixture, serverFixture, testWorkflows } from "./helpers.js";

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

let clock: TestClock;
let f: ServerFixture;
before(async () => {
  clock = new TestClock(T0);
  f = await serverFixture({ engineOptions: { clock } });
});
after(async () => {
  await f.close();
});

/** Ids of the runs whose id starts with `prefix`, sorted. */
async function runsOf(http: HttpClient, prefix: string): Promise<string[]> {
  const page = await http.list({ idContains: prefix, limit: 1_000 });
  return page.runs
    .map((r) => r.runId)
    .filter((id) => id.startsWith(prefix))
    .sort();
}

describe("schedules", () => {
  test("create, list, describe; fires on the clock; pause, resume, trigger, delete", async () => {
    const created = await f.raw.post("/api/v1/schedules", {
      scheduleId: "every-minute",
      cron: "* * * * *",
      workflow: "echo",
      input: { n: 1 },
    });
    assert.equal(created.status, 201, created.text);
    const s = created.json as ScheduleRecord;
    assert.equal(s.scheduleId, "every-minute");
    assert.equal(s.timezone, "UTC");
    assert.equal(s.overlap, "skip");
    assert.equal(s.catchupWindowMs, 60_000);
    assert.equal(s.paused, false);
    assert.equal(s.nextFireAt, T0 + MINUTE);
    assert.deepEqual(s.input, { n: 1 });

    const again = await f.raw.post("/api/v1/schedules", {
      scheduleId: "every-minute",
      cron: "* * * * *",
      workflow: "echo",
    });
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "SCHEDULE_ALREADY_EXISTS");

    const list = await f.raw.get("/api/v1/schedules");
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.schedules, [s]);
    assert.deepEqual((await f.raw.get("/api/v1/schedules/every-minute")).json, s);
    assert.deepEqual(await f.http.getSchedule("every-minute"), s);

    await clock.advance(MINUTE);
    const firstRun = `every-minute@${iso(T0 + MINUTE)}`;
    await eventually(async () => (await runsOf(f.http, "every-minute@")).length === 1, "the first fire");
    assert.deepEqual(await runsOf(f.http, "every-minute@"), [firstRun]);
    const run = await f.http.result(firstRun);
    assert.deepEqual([run.status, run.output], ["completed", { n: 1 }]);
    const fired = await f.http.getSchedule("every-minute");
    assert.equal(fired.lastRunId, firstRun);
    assert.equal(fired.lastFireAt, T0 + MINUTE);
    assert.equal(fired.nextFireAt, T0 + 2 * MINUTE);

    const paused = await f.raw.post("/api/v1/schedules/every-minute/pause");
    assert.equal(paused.status, 200);
    assert.equal(paused.json.paused, true);
    assert.equal(paused.json.nextFireAt, undefined, "a paused schedule has no next fire");
    assert.equal((await f.http.getSchedule("every-minute")).nextFireAt, undefined);
    await clock.advance(3 * MINUTE);
    assert.deepEqual(await runsOf(f.http, "every-minute@"), [firstRun], "no fire while paused");

    const resumed = await f.raw.post("/api/v1/schedules/every-minute/resume");
    assert.equal(resumed.status, 200);
    assert.equal(resumed.json.paused, false);
    assert.equal(resumed.json.nextFireAt, T0 + 5 * MINUTE, "from now on: the paused fires are not made up");
    await clock.advance(MINUTE);
    await eventually(
      async () => (await runsOf(f.http, "every-minute@")).length === 2,
      "the fire after resume",
    );
    assert.deepEqual(await runsOf(f.http, "every-minute@"), [
      firstRun,
      `every-minute@${iso(T0 + 5 * MINUTE)}`,
    ]);

    const trigger = await f.raw.post("/api/v1/schedules/every-minute/trigger");
    assert.equal(trigger.status, 200);
    assert.equal(trigger.json.runId, `every-minute@manual-${iso(clock.now())}`);
    assert.equal((await f.http.result(trigger.json.runId)).status, "completed");
    const triggered = await f.http.getSchedule("every-minute");
    assert.equal(triggered.nextFireAt, T0 + 6 * MINUTE, "rhythm unchanged");
    assert.equal(triggered.lastRunId, trigger.json.runId, "the manual run is the schedule's last run");

    const deleted = await f.raw.send("DELETE", "/api/v1/schedules/every-minute");
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.json, { scheduleId: "every-minute", deleted: true });
    for (const [method, path] of [
      ["GET", "/api/v1/schedules/every-minute"],
      ["DELETE", "/api/v1/schedules/every-minute"],
      ["POST", "/api/v1/schedules/every-minute/pause"],
      ["POST", "/api/v1/schedules/every-minute/resume"],
      ["POST", "/api/v1/schedules/every-minute/trigger"],
    ]) {
      const res = await f.raw.send(method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.json.code, "SCHEDULE_NOT_FOUND");
    }
    const before = (await runsOf(f.http, "every-minute@")).length;
    await clock.advance(2 * MINUTE);
    assert.equal((await runsOf(f.http, "every-minute@")).length, before, "a deleted schedule fires no more");
  });

  test("the cron is read in the schedule's time zone", async () => {
    const now = clock.now();
    const nextNine = (offsetHours: number) => {
      // 09:00 local on the day of `now` (UTC date), or the next day if that has passed.
      const d = new Date(now);
      let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 9 - offsetHours);
      if (t <= now) t += 86_400_000;
      return t;
    };
    for (const [id, timezone, offset] of [
      ["tz-amsterdam", "Europe/Amsterdam", 1],
      ["tz-new-york", "America/New_York", -5],
      ["tz-tokyo", "Asia/Tokyo", 9],
    ] as const) {
      const s = await f.http.createSchedule({
        scheduleId: id,
        cron: "0 9 * * *",
        timezone,
        workflow: "echo",
        paused: true,
      });
      assert.equal(s.timezone, timezone);
      assert.equal(s.paused, true);
      assert.equal(s.nextFireAt, undefined, "created paused: no next fire");
      const resumed = await f.raw.post(`/api/v1/schedules/${id}/resume`);
      assert.equal(
        iso(resumed.json.nextFireAt),
        iso(nextNine(offset)),
        `${timezone}: 09:00 local in January`,
      );
      await f.http.deleteSchedule(id);
    }
  });

  test("overlap: skip drops a fire while the last run goes on, allow_all starts it, buffer_one starts it after", async () => {
    const base = Math.ceil((clock.now() + 1) / MINUTE) * MINUTE;
    for (const overlap of ["skip", "allow_all", "buffer_one"] as const) {
      await f.http.createSchedule({
        scheduleId: `ov-${overlap}`,
        cron: "* * * * *",
        workflow: "waiter",
        overlap,
      });
    }
    await clock.advance(base - clock.now());
    await eventually(
      async () => (await runsOf(f.http, "ov-")).length === 3,
      "each schedule to start its first run",
    );
    // A minute later the first runs still wait for their signal.
    await clock.advance(MINUTE);
    await eventually(
      async () => (await runsOf(f.http, "ov-allow_all@")).length === 2,
      "allow_all's second run",
    );
    assert.deepEqual(await runsOf(f.http, "ov-skip@"), [`ov-skip@${iso(base)}`]);
    assert.deepEqual(await runsOf(f.http, "ov-buffer_one@"), [`ov-buffer_one@${iso(base)}`]);
    assert.equal((await f.http.getSchedule("ov-buffer_one")).bufferedFireAt, base + MINUTE);

    // The first runs end; buffer_one starts its buffered fire at the next tick, skip waits for the next fire.
    await f.http.signal(`ov-buffer_one@${iso(base)}`, "go", 1);
    await f.http.signal(`ov-skip@${iso(base)}`, "go", 1);
    await f.http.result(`ov-buffer_one@${iso(base)}`);
    await f.http.result(`ov-skip@${iso(base)}`);
    await clock.advance(1_000);
    await eventually(
      async () => (await runsOf(f.http, "ov-buffer_one@")).length === 2,
      "buffer_one's buffered run",
    );
    assert.deepEqual(await runsOf(f.http, "ov-buffer_one@"), [
      `ov-buffer_one@${iso(base)}`,
      `ov-buffer_one@${iso(base + MINUTE)}`,
    ]);
    assert.deepEqual(await runsOf(f.http, "ov-skip@"), [`ov-skip@${iso(base)}`]);
    await clock.advance(base + 2 * MINUTE - clock.now());
    await eventually(async () => (await runsOf(f.http, "ov-skip@")).length === 2, "skip's next fire");
    for (const overlap of ["skip", "allow_all", "buffer_one"]) await f.http.deleteSchedule(`ov-${overlap}`);
    for (const runId of await runsOf(f.http, "ov-")) await f.http.terminate(runId).catch(() => {});
  });

  test("bad input: invalid cron or time zone 400 INVALID_CRON, unknown workflow 404, bad fields 400; nothing is created", async () => {
    const base = { scheduleId: "bad-1", cron: "* * * * *", workflow: "echo" };
    for (const cron of ["not a cron", "61 * * * *", "* * *", "* * * * * * * *", "*/0 * * * *"]) {
      const res = await f.raw.post("/api/v1/schedules", { ...base, cron });
      assert.equal(res.status, 400, `${cron}: ${res.text}`);
      assert.equal(res.json.code, "INVALID_CRON");
    }
    const tz = await f.raw.post("/api/v1/schedules", { ...base, timezone: "Mars/Olympus_Mons" });
    assert.equal(tz.status, 400);
    assert.equal(tz.json.code, "INVALID_CRON");
    const wf = await f.raw.post("/api/v1/schedules", { ...base, workflow: "no-such-workflow" });
    assert.equal(wf.status, 404);
    assert.equal(wf.json.code, "WORKFLOW_NOT_FOUND");
    const big = await f.raw.post("/api/v1/schedules", { ...base, input: "x".repeat(2_100_000) });
    assert.equal(big.status, 413);
    assert.equal(big.json.code, "PAYLOAD_TOO_LARGE");
    for (const body of [
      { ...base, scheduleId: "" },
      { ...base, scheduleId: "has space" },
      { ...base, scheduleId: "x".repeat(101) },
      { ...base, cron: "" },
      { ...base, cron: 5 },
      { ...base, overlap: "sometimes" },
      { ...base, catchupWindowMs: -1 },
      { ...base, catchupWindowMs: 1.5 },
      { ...base, paused: "yes" },
      { ...base, extra: true },
      { scheduleId: "bad-1", workflow: "echo" },
      [base],
    ]) {
      const res = await f.raw.post("/api/v1/schedules", body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 100)}: ${res.text}`);
      assert.equal(res.json.code, "INVALID_ARGUMENT");
    }
    assert.deepEqual(await f.http.listSchedules(), []);
  });
});

describe("catch-up of missed fires", () => {
  test("fires missed while no server ran are made up within each schedule's window", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dirigent-catchup-"));
    const catchupClock = new TestClock(T0);
    const open = () =>
      startServer({
        databaseUrl: `sqlite:${join(dir, "s.db")}`,
        port: 0,
        handleSignals: false,
        dashboardDir: false,
        workflows: testWorkflows({ gate: gate(), entered: () => {} }),
        engineOptions: { clock: catchupClock },
      });
    let server = await open();
    let http = new HttpClient({ address: server.url });
    try {
      const spec = { cron: "* * * * *", workflow: "echo" };
      await http.createSchedule({
        ...spec,
        scheduleId: "ca-all",
        overlap: "allow_all",
        catchupWindowMs: 180_000,
      });
      await http.createSchedule({
        ...spec,
        scheduleId: "ca-skip",
        overlap: "skip",
        catchupWindowMs: 180_000,
      });
      await http.createSchedule({ ...spec, scheduleId: "ca-none", overlap: "allow_all", catchupWindowMs: 0 });
      await http.close();
      await server.close();

      // Ten and a half minutes with no server: fires at 00:01 ... 00:10 are missed.
      await catchupClock.advance(10 * MINUTE + 30_000);
      server = await open();
      http = new HttpClient({ address: server.url });
      await eventually(async () => {
        await catchupClock.advance(10);
        return (await runsOf(http, "ca-")).length >= 4;
      }, "the catch-up fires");
      assert.deepEqual(await runsOf(http, "ca-all@"), [
        `ca-all@${iso(T0 + 8 * MINUTE)}`,
        `ca-all@${iso(T0 + 9 * MINUTE)}`,
        `ca-all@${iso(T0 + 10 * MINUTE)}`,
      ]);
      assert.deepEqual(
        await runsOf(http, "ca-skip@"),
        [`ca-skip@${iso(T0 + 10 * MINUTE)}`],
        "collapsed into one",
      );
      assert.deepEqual(await runsOf(http, "ca-none@"), [], "no window, no catch-up");
      for (const id of ["ca-all", "ca-skip", "ca-none"]) {
        assert.equal((await http.getSchedule(id)).nextFireAt, T0 + 11 * MINUTE, `${id} carries on`);
      }
    } finally {
      await http.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
