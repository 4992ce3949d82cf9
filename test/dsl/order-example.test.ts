// examples/order/place-order.yaml against the demo services: the happy path, a large order approved by
// signal, one rejected by the approval timeout, and a refund when shipping fails for good.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type OrderServices, startOrderServices } from "../../examples/order/services/index.js";
import { deployFile } from "../../src/dsl/registry.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/order/place-order.yaml", import.meta.url));

let services: OrderServices;
let h: Harness | undefined;
before(async () => {
  services = await startOrderServices();
});
after(() => services.close());
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const order = (orderId: string, amount: number) => ({
  orderId,
  amount,
  address: "1 Main St",
  email: "a@example.com",
  services: {
    paymentsUrl: services.payments,
    shippingUrl: services.shipping,
    notifyUrl: services.notifications,
  },
});
const control = (url: string, body: unknown) =>
  fetch(`${url}/_control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("examples/order/place-order.yaml", () => {
  it("charges, ships and confirms; a large order waits for approval", async () => {
    h = await harness([]);
    const d = await deployFile(h.engine, EXAMPLE);
    assert.equal(d.name, "place-order-dsl");
    await h.engine.startRun(d.name, order("small-1", 42), { runId: "small-1" });
    const small = await h.engine.waitForFinish("small-1", 5_000);
    assert.equal(small.status, "completed", JSON.stringify(small.error));
    assert.match((small.output as any).tracking, /^TRK\d+$/);
    assert.equal(services.services.notifications.emails.size >= 1, true);

    await h.engine.startRun(d.name, order("big-1", 5_000), { runId: "big-1" });
    await untilStatus(h, "big-1", "waiting");
    assert.equal(
      [...services.services.payments.charges.values()].some((c) => c.orderId === "big-1"),
      false,
      "nothing charged before approval",
    );
    await h.engine.signal("big-1", "approval", { approved: true });
    const big = await h.engine.waitForFinish("big-1", 5_000);
    assert.equal(big.status, "completed");
    assert.equal((big.output as any).orderId, "big-1");
  });

  it("rejects a large order nobody approved within 24 hours, without charging", async () => {
    // Slow engine timers: the clock jumps a day, and each poll or heartbeat on the way is a timer to fire.
    h = await harness([], { pollIntervalMs: 3_600_000, leaseMs: 3_600_000 });
    await deployFile(h.engine, EXAMPLE);
    await h.engine.startRun("place-order-dsl", order("big-2", 2_000), { runId: "big-2" });
    await untilStatus(h, "big-2", "waiting");
    await h.clock.advance(24 * 3_600_000);
    const run = await h.engine.waitForFinish("big-2", 5_000);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "ORDER_REJECTED");
    assert.match(run.error!.message, /no decision within 24 hours/);
    assert.equal(
      [...services.services.payments.charges.values()].some((c) => c.orderId === "big-2"),
      false,
    );
  });

  it("refunds the charge when shipping fails for good", async () => {
    await control(services.shipping, { reset: true, failAlways: true });
    try {
      h = await harness([]);
      await deployFile(h.engine, EXAMPLE);
      await h.engine.startRun("place-order-dsl", order("fail-1", 10), { runId: "fail-1" });
      // Shipping is retried 4 times with backoff (the definition's defaults): move time along.
      for (let i = 0; i < 200 && (await h.store.getRun("fail-1"))?.status !== "failed"; i++) {
        await h.clock.advance(1_000);
        await new Promise((r) => setTimeout(r, 5));
      }
      const run = await h.engine.waitForFinish("fail-1", 5_000);
      assert.equal(run.status, "failed");
      const charge = [...services.services.payments.charges.values()].find((c) => c.orderId === "fail-1");
      assert.equal(charge?.status, "refunded");
      assert.equal(
        [...services.services.payments.refunds.values()].filter((r) => r.chargeId === charge!.id).length,
        1,
      );
    } finally {
      await control(services.shipping, { reset: true });
    }
  });
});
