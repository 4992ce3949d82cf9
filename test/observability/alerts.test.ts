import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it } from "node:test";
import { isDirigentError, TerminalError } from "../../src/core/errors.js";
import {
  ALERT_FIRING,
  ALERT_RESOLVED,
  createAlerts,
  type DirigentAlerts,
} from "../../src/observability/alerts/alerts.js";
import { type AlertsConfig, resolveAlertsConfig } from "../../src/observability/alerts/rules.js";
import { WebhookDelivery } from "../../src/observability/alerts/webhooks.js";
import { workflow } from "../../src/runtime/workflow.js";
import { TestClock } from "../../src/testing/test-clock.js";
import { eventually, type Harness, harness, untilStatus } from "../helpers/harness.js";
import { type SeenRequest, startServer, type TestServer } from "./receivers.js";

let h: Harness | undefined;
let hook: TestServer | undefined;
const managers: DirigentAlerts[] = [];

afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
  await h?.close();
  await hook?.close();
  h = undefined;
  hook = undefined;
});

/** A webhook receiver; `status(n)` answers the n-th request (1-based). */
async function receiver(status: (n: number) => number = () => 200) {
  let n = 0;
  hook = await startServer(() => ({ status: status(++n) }));
  return hook;
}

function events(requests: SeenRequest[]) {
  return requests.map((r) => ({ headers: r.headers, event: JSON.parse(r.body.toString("utf8")) }));
}

function alertsFor(config: AlertsConfig): DirigentAlerts {
  const m = createAlerts(h!.engine, config);
  managers.push(m);
  m.start();
  return m;
}

describe("alerts", () => {
  it("a failed run fires once (CloudEvent retried on webhook failure, one id), and resolves when retried", async () => {
    let broken = true;
    const pay = workflow("a-pay", async (ctx) =>
      ctx.step("charge", () => {
        if (broken) throw new TerminalError("card declined");
        return "paid";
      }),
    );
    h = await harness([pay]);
    const wh = await receiver((n) => (n <= 2 ? 500 : 200)); // the receiver fails twice, then accepts
    const alerts = alertsFor({
      rules: [{ name: "payment-failed", kind: "run_failed", workflow: "a-pay", severity: "critical" }],
      webhooks: [{ url: `${wh.url}/hook`, headers: { authorization: "Bearer abc" } }],
      source: "dirigent-test",
      delivery: { maxAttempts: 5, initialBackoffMs: 1_000 },
    });
    await h.client.start("a-pay", null, { runId: "pay-1" });
    await untilStatus(h, "pay-1", "failed");
    await eventually(() => wh.requests.length === 1, "the first delivery");
    await h.clock.advance(999);
    assert.equal(wh.requests.length, 1, "no retry before the backoff");
    await h.clock.advance(1);
    await eventually(() => wh.requests.length === 2, "the second delivery");
    await h.clock.advance(2_000);
    await eventually(() => alerts.list().active[0]?.deliveries[0]?.state === "delivered", "delivered");
    assert.equal(wh.requests.length, 3);

    const firing = events(wh.requests);
    assert.equal(new Set(firing.map((f) => f.event.id)).size, 1, "every attempt carries the same id");
    const { headers, event } = firing[2];
    assert.match(String(headers["content-type"]), /^application\/cloudevents\+json/);
    assert.equal(headers.authorization, "Bearer abc");
    assert.equal(headers["idempotency-key"], event.id);
    assert.equal(event.specversion, "1.0");
    assert.equal(event.type, ALERT_FIRING);
    assert.equal(event.source, "dirigent-test");
    assert.equal(event.subject, "pay-1");
    assert.equal(event.time, new Date(h.clock.now() - 3_000).toISOString());
    assert.equal(event.datacontenttype, "application/json");
    assert.equal(event.data.rule, "payment-failed");
    assert.equal(event.data.severity, "critical");
    assert.equal(event.data.state, "firing");
    assert.deepEqual(event.data.labels, { runId: "pay-1", workflow: "a-pay" });
    assert.match(event.data.summary, /run pay-1 of a-pay failed: .*card declined/);
    const [active] = alerts.list().active;
    assert.equal(active.id, event.data.alertId);
    assert.deepEqual(
      active.deliveries.map((d) => [d.state, d.attempts]),
      [["delivered", 3]],
    );

    // Nothing new while the condition holds: deduplicated.
    await alerts.evaluate();
    await h.clock.advance(60_000);
    await alerts.evaluate();
    assert.equal(wh.requests.length, 3);

    // Fixed and retried: the condition clears and a resolved notice follows.
    broken = false;
    await h.engine.retry("pay-1");
    await untilStatus(h, "pay-1", "completed");
    await eventually(() => wh.requests.length === 4, "the resolved notice");
    const resolved = events(wh.requests)[3].event;
    assert.equal(resolved.type, ALERT_RESOLVED);
    assert.equal(resolved.data.alertId, event.data.alertId);
    assert.notEqual(resolved.id, event.id);
    assert.equal(resolved.data.state, "resolved");
    assert.equal(alerts.list().active.length, 0);
    assert.deepEqual(
      alerts.list().recent.map((a) => [a.rule, a.state]),
      [["payment-failed", "resolved"]],
    );
    await alerts.evaluate();
    await alerts.idle();
    assert.equal(wh.requests.length, 4, "no duplicates");
  });

  it("step retries, stuck runs, queue age and failure rate fire and resolve on the injected clock", async () => {
    const waiting = workflow("a-wait", async (ctx) => ctx.waitForSignal("go"));
    const tasking = workflow("a-task", async (ctx) => ctx.task("notify", { queue: "email" }));
    const flaky = workflow("a-flaky", async (ctx) =>
      ctx.step(
        "s",
        ({ attempt }) => {
          if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
          return attempt;
        },
        { retry: { maxAttempts: 5, initialIntervalMs: 1_000, jitter: 0 } },
      ),
    );
    const bad = workflow("a-bad", async (ctx) =>
      ctx.step("s", () => {
        throw new TerminalError("no");
      }),
    );
    h = await harness([waiting, tasking, flaky, bad]);
    const wh = await receiver();
    const config: AlertsConfig = {
      rules: [
        { name: "retrying", kind: "step_retries", retries: 2, workflow: "a-flaky" },
        { name: "stuck", kind: "run_stuck", status: "waiting", for: "10m", workflow: "a-wait" },
        { name: "queue-old", kind: "queue_age", maxAge: "1m", queue: "email" },
        { name: "fail-rate", kind: "failure_rate", percent: 50, window: "10m", minRuns: 2 },
      ],
      webhooks: [{ url: wh.url }],
      evaluationIntervalMs: 30_000,
    };
    const alerts = alertsFor(config);
    const t0 = h.clock.now();
    const fired = () => events(wh.requests).map((e) => `${e.event.data.rule} ${e.event.data.state}`);

    await h.client.start("a-wait", null, { runId: "w1" });
    await h.client.start("a-task", null, { runId: "t1" });
    await h.client.start("a-flaky", null, { runId: "f1" });
    await h.client.start("a-bad", null, { runId: "b1" });
    await h.client.start("a-bad", null, { runId: "b2" });
    await untilStatus(h, "b2", "failed");
    await untilStatus(h, "f1", "waiting");
    await eventually(() => wh.requests.length === 1, "failure rate");
    assert.deepEqual(fired(), ["fail-rate firing"]);

    await h.clock.advance(1_000); // f1's second attempt fails too: 2 retries
    await eventually(() => wh.requests.length === 2, "step retries");
    await h.clock.advance(2_000); // the third attempt succeeds
    await untilStatus(h, "f1", "completed");
    await eventually(() => wh.requests.length === 3, "step retries resolved");
    assert.deepEqual(fired().slice(1), ["retrying firing", "retrying resolved"]);
    const retrying = events(wh.requests)[1].event.data;
    assert.deepEqual([retrying.value, retrying.threshold], [2, 2]);
    assert.deepEqual(retrying.labels, { runId: "f1", workflow: "a-flaky", step: "s", seq: "0" });

    await h.clock.advance(60_000); // t0 + 63 s: the email task waited over a minute
    await alerts.evaluate();
    await eventually(() => wh.requests.length === 4, "queue age");
    const queue = events(wh.requests)[3].event;
    assert.equal(queue.data.rule, "queue-old");
    assert.equal(queue.subject, "email");
    assert.equal(queue.data.since, new Date(t0).toISOString());
    assert.equal(queue.data.value, 63);
    const [task] = await h.engine.tasks.poll({ queue: "email", workerId: "w" });
    await h.engine.tasks.complete(task.taskId, task.leaseToken, "sent");
    await untilStatus(h, "t1", "completed");
    await alerts.evaluate();
    // t1 completing also brings the failure rate to 2 of 4 runs: 50%, no longer over 50%.
    await eventually(() => wh.requests.length === 6, "queue age and failure rate resolved");
    assert.deepEqual(fired().slice(4).sort(), ["fail-rate resolved", "queue-old resolved"]);

    // The clock passes 10 min of waiting for w1: the periodic evaluation (every 30 s on the injected
    // clock) that first sees it, at t0 + 10 min 30 s, fires; an explicit evaluation adds nothing.
    await h.clock.advance(10 * 60_000);
    await eventually(() => wh.requests.length === 7, "stuck");
    await alerts.evaluate();
    assert.equal(fired()[6], "stuck firing");
    const stuck = events(wh.requests).find((e) => e.event.data.rule === "stuck")!.event;
    assert.equal(stuck.subject, "w1");
    assert.equal(stuck.data.since, new Date(t0).toISOString());
    assert.match(stuck.data.summary, /run w1 of a-wait has been waiting for 10m 30s \(limit 10m\)/);

    // A second node (or this one restarted) sends the same id for the same firing: receivers dedupe.
    const second = alertsFor(config);
    await second.evaluate();
    await eventually(() => wh.requests.length === 8, "the second node's notice");
    assert.equal(events(wh.requests)[7].event.id, stuck.id);
    await second.stop();

    await h.client.signal("w1", "go", true);
    await untilStatus(h, "w1", "completed");
    await alerts.evaluate();
    await eventually(() => wh.requests.length === 9, "stuck resolved");
    assert.equal(fired()[8], "stuck resolved");
    assert.equal(alerts.list().active.length, 0);

    // Each firing and each resolution was delivered exactly once (the second node's copy aside).
    const ids = events(wh.requests).map((e) => e.event.id);
    assert.equal(new Set(ids).size, 8);
    for (const [i, e] of events(wh.requests).entries()) {
      if (e.event.data.state === "resolved") {
        const firstIndex = events(wh.requests).findIndex(
          (x) => x.event.data.alertId === e.event.data.alertId,
        );
        assert.ok(firstIndex < i, "a resolution follows its firing");
      }
    }
    await alerts.evaluate();
    await alerts.idle();
    assert.equal(wh.requests.length, 9);
  });

  it("does not retry a delivery the receiver refuses with 4xx", async () => {
    const bad = workflow("a-pay", async (ctx) =>
      ctx.step("s", () => {
        throw new TerminalError("no");
      }),
    );
    h = await harness([bad]);
    const wh = await receiver(() => 400);
    const alerts = alertsFor({
      rules: [{ name: "failed", kind: "run_failed" }],
      webhooks: [{ url: wh.url }],
      delivery: { initialBackoffMs: 1 },
    });
    await h.client.start("a-pay", null, { runId: "p" });
    await eventually(() => alerts.list().active[0]?.deliveries[0]?.state === "failed", "given up");
    await h.clock.advance(10_000);
    await alerts.idle();
    assert.equal(wh.requests.length, 1);
  });

  it("stops at once with a delivery in flight or waiting to retry", async () => {
    const clock = new TestClock();
    const states: string[] = [];
    let respond: (() => void) | undefined;
    const server = http.createServer((_req, res) => {
      respond = () => res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const delivery = new WebhookDelivery(
        {
          webhooks: [{ url, headers: {}, timeoutMs: 60_000 }],
          delivery: { maxAttempts: 5, initialBackoffMs: 1_000, maxBackoffMs: 1_000 },
        },
        clock,
        (_id, _url, state, attempts) => states.push(`${state}:${attempts}`),
      );
      delivery.send({ id: "e1", key: "k", headers: { "content-type": "application/json" }, body: "{}" });
      await eventually(() => respond !== undefined, "the request to arrive");
      await delivery.stop(); // aborts the request in flight; no retry is scheduled after it
      assert.deepEqual(states, ["pending:0", "failed:5"]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("validates its config", () => {
    const bad = (config: unknown, pattern: RegExp) =>
      assert.throws(
        () => resolveAlertsConfig(config as AlertsConfig),
        (e: unknown) => isDirigentError(e) && e.code === "INVALID_OPTIONS" && pattern.test(e.message),
      );
    bad({ rules: [{ name: "x", kind: "run_failed", colour: 1 }] }, /colour/);
    bad({ rules: [{ name: "x", kind: "nope" }] }, /kind/);
    bad({ rules: [{ name: "x", kind: "run_stuck", status: "waiting", for: "soon" }] }, /rules\.0\.for/);
    bad(
      {
        rules: [
          { name: "x", kind: "run_failed" },
          { name: "x", kind: "run_failed" },
        ],
      },
      /used twice/,
    );
    bad({ rules: [], webhooks: [{ url: "not a url" }] }, /webhooks/);
    const ok = resolveAlertsConfig({
      rules: [{ name: "s", kind: "run_stuck", status: "running", for: "1h30m" }],
    });
    assert.deepEqual(ok.rules, [
      { name: "s", kind: "run_stuck", status: "running", forMs: 5_400_000, severity: "warning" },
    ]);
    assert.equal(ok.delivery.maxAttempts, 8);
  });
});
