// The order workflow (examples/order/workflow.ts) against the real demo services over HTTP.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { type OrderServices, startOrderServices } from "../examples/order/services/index.js";
import { createOrderWorkflows, type Order, placeOrder } from "../examples/order/workflow.js";
import { LocalClient } from "../src/client/local-client.js";
import { createEngine, type Engine } from "../src/runtime/engine.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";

// Retries 1 ms apart: the backoff is real time, so keep it negligible.
const FAST_RETRY = { maxAttempts: 4, initialIntervalMs: 1, maxIntervalMs: 2, jitter: 0 };

async function control(url: string, body: unknown): Promise<void> {
  const r = await fetch(`${url}/_control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
}

describe("order example workflow", () => {
  let dir: string;
  let services: OrderServices;
  let store: SqliteStore;
  let engine: Engine;
  let client: LocalClient;

  const order = (n: number): Order => ({
    orderId: `order-${n}`,
    amount: 10 * n,
    address: "1 Main St",
    email: "ann@example.com",
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "dirigent-order-"));
    services = await startOrderServices();
    store = new SqliteStore({ path: join(dir, "order.db") });
    const { workflows } = createOrderWorkflows({
      paymentsUrl: services.payments,
      shippingUrl: services.shipping,
      notifyUrl: services.notifications,
      retry: FAST_RETRY,
    });
    engine = createEngine({ store, workflows });
    client = new LocalClient(engine);
    await engine.start();
  });

  afterEach(async () => {
    for (const url of [services.payments, services.shipping, services.notifications]) {
      await control(url, { reset: true });
    }
  });

  after(async () => {
    await engine.stop();
    await store.close();
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function place(runId: string, input: Order) {
    await client.start("place-order", input, { runId });
    const run = await client.result(runId, { timeoutMs: 20_000 });
    return { run, history: await client.history(runId) };
  }

  it("charges, ships and confirms an order", async () => {
    const { run } = await place("happy", order(1));
    assert.equal(run.status, "completed", JSON.stringify(run.error));
    const output = run.output as Record<string, string>;
    assert.equal(output.orderId, "order-1");
    assert.equal(services.services.payments.charges.get(output.chargeId)?.status, "captured");
    assert.equal(services.services.shipping.shipments.get(output.shipmentId)?.tracking, output.tracking);
    assert.equal(services.services.notifications.emails.get(output.emailId)?.to, "ann@example.com");
    // Each call carried the step's idempotency key `<runId>:<seq>` and was applied once.
    assert.deepEqual(services.services.payments.ledger().byKey["happy:0"], { received: 1, applied: 1 });
    assert.deepEqual(services.services.shipping.ledger().byKey["happy:1"], { received: 1, applied: 1 });
    assert.deepEqual(services.services.notifications.ledger().byKey["happy:2"], { received: 1, applied: 1 });
  });

  it("retries shipping that fails twice, and ships once", async () => {
    await control(services.shipping, { failNext: 2 });
    const { run, history } = await place("flaky-shipping", order(2));
    assert.equal(run.status, "completed", JSON.stringify(run.error));
    assert.deepEqual(services.services.shipping.ledger().byKey["flaky-shipping:1"], {
      received: 3,
      applied: 1,
    });
    const shipments = [...services.services.shipping.shipments.values()].filter(
      (s) => s.orderId === "order-2",
    );
    assert.equal(shipments.length, 1);
    const failedAttempts = history.events.filter(
      (e) => e.type === "step:attempt-failed" && e.name === "ship",
    );
    assert.deepEqual(
      failedAttempts.map((e) => e.attempt),
      [1, 2],
    );
    assert.equal(
      history.events.some((e) => e.type.startsWith("undo:")),
      false,
    );
  });

  it("refunds the charge once when shipping fails for good, and the run fails", async () => {
    await control(services.shipping, { failAlways: true });
    const { run, history } = await place("no-shipping", order(3));
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "STEP_FAILED");
    assert.deepEqual(services.services.shipping.ledger().byKey["no-shipping:1"], { received: 4, applied: 0 });

    const undo = history.events.find((e) => e.type === "undo:completed");
    assert.equal(undo?.name, "undo:charge");
    const refundKey = `no-shipping:${undo!.seq}`;
    assert.deepEqual(services.services.payments.ledger().byKey[refundKey], { received: 1, applied: 1 });
    const refunds = [...services.services.payments.refunds.values()];
    const charge = [...services.services.payments.charges.values()].find((c) => c.orderId === "order-3")!;
    assert.equal(charge.status, "refunded");
    assert.equal(refunds.filter((r) => r.chargeId === charge.id).length, 1);
    // Nothing was confirmed for a failed order.
    assert.equal(services.services.notifications.ledger().byKey["no-shipping:2"], undefined);
  });

  it("does not retry a 4xx answer: the step fails at once and the charge is refunded", async () => {
    await control(services.shipping, { failNext: 1, failStatus: 400 });
    const { run, history } = await place("rejected", order(4));
    assert.equal(run.status, "failed");
    assert.deepEqual(services.services.shipping.ledger().byKey["rejected:1"], { received: 1, applied: 0 });
    const failed = history.events.find((e) => e.type === "step:failed");
    assert.equal(failed?.name, "ship");
    assert.equal(failed?.error?.code, "HTTP_400");
    assert.ok(history.events.some((e) => e.type === "undo:completed" && e.name === "undo:charge"));
  });

  it("takes the services from the input when the workflow was not bound to them", async () => {
    const unbound = createEngine({
      store: new SqliteStore({ path: join(dir, "unbound.db") }),
      workflows: [placeOrder],
    });
    await unbound.start();
    try {
      const urls = {
        paymentsUrl: services.payments,
        shippingUrl: services.shipping,
        notifyUrl: services.notifications,
      };
      await assert.rejects(unbound.startRun("place-order", order(5)), { code: "INVALID_INPUT" });
      const { runId } = await unbound.startRun(
        "place-order",
        { ...order(5), services: urls },
        { runId: "unbound" },
      );
      const run = await unbound.waitForFinish(runId, 20_000);
      assert.equal(run.status, "completed", JSON.stringify(run.error));
      assert.deepEqual(services.services.shipping.ledger().byKey["unbound:1"], { received: 1, applied: 1 });
    } finally {
      await unbound.stop();
      await unbound.store.close();
    }
  });
});
