// GET /api/v1/stats over real HTTP, with the engine on an injected clock so the buckets are exact.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TestClock } from "../../src/testing/test-clock.js";
import { type ServerFixture, serverFixture } from "./helpers.js";

const START = Date.UTC(2026, 0, 1, 12, 0, 30);
let clock: TestClock;
let f: ServerFixture;
before(async () => {
  clock = new TestClock(START);
  f = await serverFixture({ engineOptions: { clock } });
  // 12:00:30 two echo runs complete, 12:02:30 one fails.
  await f.http.start("echo", 1, { runId: "st-1" });
  await f.http.start("echo", 2, { runId: "st-2" });
  await f.http.result("st-1");
  await f.http.result("st-2");
  await clock.advance(120_000);
  await f.http.start("fails", null, { runId: "st-3" });
  await f.http.result("st-3");
});
after(async () => {
  await f.close();
});

describe("GET /api/v1/stats", () => {
  test("defaults: the last hour in one-minute buckets, aligned to whole minutes, the current one last", async () => {
    const res = await f.raw.get("/api/v1/stats");
    assert.equal(res.status, 200, res.text);
    const stats = res.json;
    assert.equal(stats.bucketMs, 60_000);
    assert.equal(stats.buckets.length, 60);
    const now = clock.now();
    const last = stats.buckets.at(-1);
    assert.ok(last.t <= now && now < last.t + 60_000, "the last bucket holds now");
    assert.ok(stats.buckets.every((b: { t: number }) => b.t % 60_000 === 0));
    const byTime = new Map(stats.buckets.map((b: { t: number }) => [b.t, b]));
    assert.deepEqual(byTime.get(Date.UTC(2026, 0, 1, 12, 0)), {
      t: Date.UTC(2026, 0, 1, 12, 0),
      started: 2,
      completed: 2,
      failed: 0,
    });
    assert.deepEqual(byTime.get(Date.UTC(2026, 0, 1, 12, 2)), {
      t: Date.UTC(2026, 0, 1, 12, 2),
      started: 1,
      completed: 0,
      failed: 1,
    });
    assert.equal(stats.failureRate, 1 / 3);
    assert.equal(stats.stepLatencyMs.count, 2, "the two completed echo steps");
    assert.deepEqual(await f.http.runStats(), stats, "HttpClient.runStats gives the same");
  });

  test("since, until (epoch ms or ISO), bucketMs and workflow", async () => {
    const since = Date.UTC(2026, 0, 1, 12, 0);
    const res = await f.raw.get(
      `/api/v1/stats?since=${since}&until=2026-01-01T12:05:00Z&bucketMs=300000&workflow=echo`,
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.buckets, [{ t: since, started: 2, completed: 2, failed: 0 }]);
    assert.equal(res.json.failureRate, 0);
    const viaClient = await f.http.runStats({
      since,
      until: since + 300_000,
      bucketMs: 300_000,
      workflow: "echo",
    });
    assert.deepEqual(viaClient, res.json);
    const none = await f.http.runStats({ since, until: since + 60_000, workflow: "waiter" });
    assert.equal(none.failureRate, null);
    assert.deepEqual(none.stepLatencyMs, { count: 0, p50: null, p95: null, p99: null });
  });

  test("a bad window is 400 INVALID_ARGUMENT", async () => {
    for (const q of [
      "since=yesterday",
      "until=2026-13-45",
      "bucketMs=abc",
      "bucketMs=0",
      "bucketMs=999",
      "bucketMs=1000",
      `since=${START}&until=${START}`,
      `since=${START + 1}&until=${START}`,
      "workflow=",
      "other=1",
    ]) {
      const res = await f.raw.get(`/api/v1/stats?${q}`);
      assert.equal(res.status, 400, `${q} -> ${res.text}`);
      assert.equal(res.json.code, "INVALID_ARGUMENT");
    }
  });
});
