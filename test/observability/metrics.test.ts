import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { TerminalError } from "../../src/core/errors.js";
import { createMetrics, type DirigentMetrics } from "../../src/observability/metrics.js";
import { workflow } from "../../src/runtime/workflow.js";
import { eventually, type Harness, harness, untilStatus } from "../helpers/harness.js";
import { parsePrometheus, type Sample, sample, startServer, type TestServer } from "./receivers.js";

const retry = { maxAttempts: 3, initialIntervalMs: 1_000, jitter: 0 };

const ok = workflow("m-ok", async (ctx) => {
  await ctx.step("a", () => 1);
  return ctx.step(
    "b",
    ({ attempt }) => {
      if (attempt === 1) throw new Error("first attempt fails");
      return 2;
    },
    { retry },
  );
});
const failing = workflow("m-fail", async (ctx) =>
  ctx.step("x", () => {
    throw new TerminalError("no way");
  }),
);
const calling = workflow("m-http", async (ctx, url: string) => {
  const res = await ctx.http("call", { method: "POST", url, body: { hello: 1 } }, { retry });
  return res.status;
});
const tasking = workflow("m-task", async (ctx) => ctx.task("notify", { queue: "email", input: { to: "x" } }));
const sleeping = workflow("m-sleep", async (ctx) => ctx.sleep("nap", "1h"));
const signalled = workflow("m-signal", async (ctx) => ctx.waitForSignal("go"));

let h: Harness;
let metrics: DirigentMetrics;
let service: TestServer;
let scrapeServer: http.Server;
let scrapeUrl: string;

/** Scrape /metrics over real HTTP, as Prometheus would. */
async function scrape(): Promise<{ text: string; samples: Sample[]; contentType: string }> {
  const res = await fetch(scrapeUrl);
  assert.equal(res.status, 200);
  const text = await res.text();
  return { text, samples: parsePrometheus(text), contentType: res.headers.get("content-type") ?? "" };
}

before(async () => {
  let calls = 0;
  service = await startServer(() => {
    calls++;
    return calls === 1
      ? { status: 503, body: "busy" }
      : { status: 200, headers: { "content-type": "application/json" }, body: '{"ok":true}' };
  });
  h = await harness([ok, failing, calling, tasking, sleeping, signalled]);
  metrics = createMetrics(h.engine);
  scrapeServer = http.createServer(async (_req, res) => {
    res.writeHead(200, { "content-type": metrics.contentType });
    res.end(await metrics.metricsText());
  });
  await new Promise<void>((r) => scrapeServer.listen(0, "127.0.0.1", r));
  scrapeUrl = `http://127.0.0.1:${(scrapeServer.address() as AddressInfo).port}/metrics`;
});

after(async () => {
  metrics.close();
  await h.close();
  await service.close();
  await new Promise((r) => scrapeServer.close(r));
});

describe("metrics", () => {
  it("counts a known workload exactly, with gauges read from the store and no run id as a label", async () => {
    const ids: string[] = [];
    const start = async (wf: string, n: number, input: unknown = null) => {
      for (let i = 0; i < n; i++) {
        const runId = `run-${wf}-${i}`;
        ids.push(runId);
        await h.client.start(wf, input, { runId });
      }
    };
    await start("m-ok", 3);
    await start("m-fail", 1);
    await start("m-http", 1, `${service.url}/flaky`);
    await start("m-task", 2);
    await start("m-sleep", 2);
    await start("m-signal", 1);
    for (const id of ids.filter((i) => !i.includes("m-fail"))) await untilStatus(h, id, "waiting");
    await untilStatus(h, "run-m-fail-0", "failed");
    // The retries of m-ok's step b and of m-http's call are due 1 s later.
    await h.clock.advance(1_000);
    for (const id of ["run-m-ok-0", "run-m-ok-1", "run-m-ok-2", "run-m-http-0"])
      await untilStatus(h, id, "completed");
    const leased = await h.engine.tasks.poll({ queue: "email", workerId: "w1", maxTasks: 1 });
    assert.equal(leased.length, 1);

    const { text, samples, contentType } = await scrape();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const v = (name: string, labels: Record<string, string> = {}) => sample(samples, name, labels);

    for (const [workflow, n] of Object.entries({
      "m-ok": 3,
      "m-fail": 1,
      "m-http": 1,
      "m-task": 2,
      "m-sleep": 2,
      "m-signal": 1,
    })) {
      assert.equal(v("dirigent_runs_started_total", { workflow }), n, `runs started of ${workflow}`);
    }
    assert.equal(v("dirigent_runs_finished_total", { workflow: "m-ok", status: "completed" }), 3);
    assert.equal(v("dirigent_runs_finished_total", { workflow: "m-fail", status: "failed" }), 1);
    assert.equal(v("dirigent_runs_finished_total", { workflow: "m-http", status: "completed" }), 1);
    assert.equal(v("dirigent_runs_finished_total", { workflow: "m-task", status: "completed" }), undefined);

    // Run durations on the test clock: m-ok runs took exactly the 1 s backoff, m-fail none.
    assert.equal(v("dirigent_run_duration_seconds_count", { workflow: "m-ok", status: "completed" }), 3);
    assert.equal(v("dirigent_run_duration_seconds_sum", { workflow: "m-ok", status: "completed" }), 3);
    assert.equal(
      v("dirigent_run_duration_seconds_bucket", { workflow: "m-ok", status: "completed", le: "0.5" }),
      0,
    );
    assert.equal(
      v("dirigent_run_duration_seconds_bucket", { workflow: "m-ok", status: "completed", le: "1" }),
      3,
    );
    assert.equal(v("dirigent_run_duration_seconds_count", { workflow: "m-fail", status: "failed" }), 1);
    assert.equal(v("dirigent_run_duration_seconds_sum", { workflow: "m-fail", status: "failed" }), 0);

    assert.equal(v("dirigent_step_attempts_total", { workflow: "m-ok", step: "a" }), 3);
    assert.equal(v("dirigent_step_attempts_total", { workflow: "m-ok", step: "b" }), 6);
    assert.equal(v("dirigent_step_retries_total", { workflow: "m-ok", step: "b" }), 3);
    assert.equal(v("dirigent_step_retries_total", { workflow: "m-ok", step: "a" }), undefined);
    assert.equal(v("dirigent_step_failures_total", { workflow: "m-fail", step: "x" }), 1);
    assert.equal(v("dirigent_step_attempts_total", { workflow: "m-http", step: "call" }), 2);
    assert.equal(
      v("dirigent_step_duration_seconds_count", { workflow: "m-ok", step: "b", outcome: "retried" }),
      3,
    );
    assert.equal(
      v("dirigent_step_duration_seconds_count", { workflow: "m-ok", step: "b", outcome: "completed" }),
      3,
    );
    assert.equal(
      v("dirigent_step_duration_seconds_count", { workflow: "m-fail", step: "x", outcome: "failed" }),
      1,
    );

    assert.equal(v("dirigent_http_calls_total", { method: "POST", status_code: "503" }), 1);
    assert.equal(v("dirigent_http_calls_total", { method: "POST", status_code: "200" }), 1);

    assert.equal(v("dirigent_runs", { status: "completed" }), 4);
    assert.equal(v("dirigent_runs", { status: "failed" }), 1);
    assert.equal(v("dirigent_runs", { status: "waiting" }), 5);
    assert.equal(v("dirigent_runs", { status: "running" }), 0);
    assert.equal(v("dirigent_queue_depth", { queue: "email" }), 1);
    assert.equal(v("dirigent_queue_leased_tasks", { queue: "email" }), 1);
    assert.equal(v("dirigent_queue_oldest_task_age_seconds", { queue: "email" }), 1);
    assert.equal(v("dirigent_workers_connected", { queue: "email" }), 1);
    // The leased task was ready at the start and leased 1 s later (task:leased).
    assert.equal(v("dirigent_task_schedule_to_start_seconds_count", { queue: "email" }), 1);
    assert.equal(v("dirigent_task_schedule_to_start_seconds_sum", { queue: "email" }), 1);
    assert.equal(v("dirigent_task_schedule_to_start_seconds_bucket", { queue: "email", le: "0.5" }), 0);
    assert.equal(v("dirigent_task_schedule_to_start_seconds_bucket", { queue: "email", le: "1" }), 1);
    assert.equal(
      v("dirigent_timers_pending"),
      2,
      "the two sleeping runs (task and signal waits have no timer)",
    );
    assert.equal(v("dirigent_lease_takeovers_total"), 0);
    assert.equal(v("dirigent_engine_errors_total"), 0);

    // Naming: one prefix, base units, _total counters; and never a run id as a label value.
    for (const s of samples) assert.match(s.name, /^dirigent_/);
    for (const line of text.split("\n").filter((l) => l.startsWith("# TYPE"))) {
      const [, , name, type] = line.split(" ");
      if (type === "counter") assert.match(name, /_total$/, `${name} is a counter`);
      if (type === "histogram") assert.match(name, /_seconds$/, `${name} is in seconds`);
    }
    for (const id of ids) assert.ok(!text.includes(`"${id}"`), `run id ${id} appears as a label`);
    for (const s of samples) for (const value of Object.values(s.labels)) assert.ok(!ids.includes(value));

    // The workers' age gauge moves with the clock; the counters do not change on a second scrape.
    await h.clock.advance(60_000);
    await eventually(async () => {
      const again = (await scrape()).samples;
      return (
        sample(again, "dirigent_workers_connected", { queue: "email" }) === 0 &&
        sample(again, "dirigent_queue_oldest_task_age_seconds", { queue: "email" }) === 61 &&
        sample(again, "dirigent_runs_started_total", { workflow: "m-ok" }) === 3
      );
    }, "gauges to follow the clock");
  });

  it("counts lease takeovers from run:claimed (which the store does not report yet)", async () => {
    // Store.claimRuns does not say which claims took over an expired lease; this is the event's shape.
    h.engine.events.emit("run:claimed", {
      runId: "run-x",
      workflow: "m-ok",
      fence: 2,
      replay: true,
      takeover: true,
      resumed: true,
      claimedAt: Date.now(),
    });
    const { samples } = await scrape();
    assert.equal(sample(samples, "dirigent_lease_takeovers_total"), 1);
  });

  it("counts runs given up by self-fencing, by reason", async () => {
    // The engine emits run:lease-lost when it stops a run whose lease it cannot confirm
    // (test/runtime/self-fencing.test.ts makes it happen); here, its shape.
    for (const reason of ["not-renewed", "renewal-overdue", "renewal-overdue"] as const) {
      h.engine.events.emit("run:lease-lost", {
        runId: "run-y",
        workflow: "m-ok",
        fence: 1,
        reason,
        sinceRenewalMs: 10,
      });
    }
    const { samples } = await scrape();
    assert.equal(sample(samples, "dirigent_lease_losses_total", { reason: "not-renewed" }), 1);
    assert.equal(sample(samples, "dirigent_lease_losses_total", { reason: "renewal-overdue" }), 2);
  });
});
