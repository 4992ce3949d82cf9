// Demo services of the "place an order" example, exercised over real HTTP.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { type OrderServices, startOrderServices } from "../examples/order/services/index.js";
import { createNotificationsService } from "../examples/order/services/notifications.js";
import { createPaymentsService } from "../examples/order/services/payments.js";

interface JsonResponse {
  status: number;
  body: any;
}

async function call(
  method: "GET" | "POST",
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const post = (url: string, body: unknown, headers?: Record<string, string>) =>
  call("POST", url, body, headers);
const get = (url: string) => call("GET", url);

describe("order demo services", () => {
  let running: OrderServices;

  before(async () => {
    running = await startOrderServices();
  });

  after(async () => {
    await running.close();
  });

  // Fault settings are per service and persist; reset them so one test cannot break the next.
  afterEach(async () => {
    for (const url of [running.payments, running.shipping, running.notifications]) {
      await post(`${url}/_control`, { reset: true });
    }
  });

  it("answers health checks", async () => {
    for (const url of [running.payments, running.shipping, running.notifications]) {
      assert.deepEqual(await get(`${url}/healthz`), { status: 200, body: { ok: true } });
    }
  });

  it("creates charges, shipments and emails with the documented shapes", async () => {
    const charge = await post(`${running.payments}/charges`, { orderId: "o-shape", amount: 42 });
    assert.equal(charge.status, 201);
    assert.match(charge.body.id, /^ch_\d+$/);
    assert.deepEqual(charge.body, { id: charge.body.id, orderId: "o-shape", amount: 42, status: "captured" });
    assert.deepEqual(await get(`${running.payments}/charges/${charge.body.id}`), {
      status: 200,
      body: charge.body,
    });

    const shipment = await post(`${running.shipping}/shipments`, {
      orderId: "o-shape",
      address: "1 Main St",
    });
    assert.equal(shipment.status, 201);
    assert.match(shipment.body.id, /^sh_\d+$/);
    assert.match(shipment.body.tracking, /^TRK\d+$/);
    assert.equal(shipment.body.orderId, "o-shape");

    const email = await post(`${running.notifications}/emails`, { to: "a@example.com", subject: "Hi" });
    assert.equal(email.status, 202);
    assert.match(email.body.id, /^em_\d+$/);
    assert.deepEqual(email.body, { id: email.body.id, to: "a@example.com", status: "queued" });

    const refund = await post(`${running.payments}/refunds`, { chargeId: charge.body.id });
    assert.equal(refund.status, 201);
    assert.match(refund.body.id, /^rf_\d+$/);
    assert.deepEqual(refund.body, { id: refund.body.id, chargeId: charge.body.id, status: "refunded" });
  });

  it("replays the stored response for a repeated idempotency key and applies the effect once", async () => {
    const headers = { "Idempotency-Key": "order-1:charge" };
    const first = await post(`${running.payments}/charges`, { orderId: "o-1", amount: 10 }, headers);
    const second = await post(`${running.payments}/charges`, { orderId: "o-1", amount: 10 }, headers);
    assert.equal(first.status, 201);
    assert.deepEqual(second, first);

    const { body: ledger } = await get(`${running.payments}/_ledger`);
    assert.deepEqual(ledger.byKey["order-1:charge"], { received: 2, applied: 1 });
    const charges = [...running.services.payments.charges.values()].filter((c) => c.orderId === "o-1");
    assert.equal(charges.length, 1);
  });

  it("applies every call that carries no idempotency key", async () => {
    const first = await post(`${running.shipping}/shipments`, { orderId: "o-nokey", address: "x" });
    const second = await post(`${running.shipping}/shipments`, { orderId: "o-nokey", address: "x" });
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.notEqual(first.body.id, second.body.id);
  });

  it("fails exactly failNext calls, then succeeds", async () => {
    const url = running.notifications;
    const control = await post(`${url}/_control`, { failNext: 2 });
    assert.equal(control.body.failNext, 2);

    const headers = { "Idempotency-Key": "email-failnext" };
    for (let i = 0; i < 2; i++) {
      const failed = await post(`${url}/emails`, { to: "b@example.com" }, headers);
      assert.deepEqual(failed, { status: 503, body: { error: "injected failure" } });
    }
    const ok = await post(`${url}/emails`, { to: "b@example.com" }, headers);
    assert.equal(ok.status, 202);
    assert.equal((await get(`${url}/_control`)).body.failNext, 0);

    // Injected failures are received but neither applied nor stored.
    const { body: ledger } = await get(`${url}/_ledger`);
    assert.deepEqual(ledger.byKey["email-failnext"], { received: 3, applied: 1 });
  });

  it("fails every call while failAlways is set, with the chosen status, until reset", async () => {
    const url = running.shipping;
    await post(`${url}/_control`, { failAlways: true, failStatus: 500 });
    assert.deepEqual((await get(`${url}/_control`)).body, {
      failNext: 0,
      failAlways: true,
      failStatus: 500,
      delayMs: 0,
    });
    for (let i = 0; i < 3; i++) {
      const failed = await post(`${url}/shipments`, { orderId: "o-always", address: "x" });
      assert.deepEqual(failed, { status: 500, body: { error: "injected failure" } });
    }
    // Control endpoints and health checks are not business calls and keep working.
    assert.equal((await get(`${url}/healthz`)).status, 200);

    const reset = await post(`${url}/_control`, { reset: true });
    assert.deepEqual(reset.body, { failNext: 0, failAlways: false, failStatus: 503, delayMs: 0 });
    const ok = await post(`${url}/shipments`, { orderId: "o-always", address: "x" });
    assert.equal(ok.status, 201);
  });

  it("delays business responses by delayMs", async () => {
    const delayMs = 50;
    await post(`${running.payments}/_control`, { delayMs });
    const started = performance.now();
    const response = await post(`${running.payments}/charges`, { orderId: "o-delay", amount: 1 });
    const elapsed = performance.now() - started;
    assert.equal(response.status, 201);
    assert.ok(elapsed >= delayMs, `expected at least ${delayMs}ms, took ${elapsed.toFixed(1)}ms`);
  });

  it("answers 404 when refunding an unknown charge", async () => {
    const response = await post(`${running.payments}/refunds`, { chargeId: "ch_does_not_exist" });
    assert.equal(response.status, 404);
    assert.equal(response.body.code, "CHARGE_NOT_FOUND");
  });

  it("answers 400 INVALID_BODY when required fields are missing", async () => {
    const cases: Array<[string, unknown]> = [
      [`${running.payments}/charges`, { orderId: "o-1" }],
      [`${running.payments}/charges`, { amount: 5 }],
      [`${running.payments}/refunds`, {}],
      [`${running.shipping}/shipments`, { orderId: "o-1" }],
      [`${running.shipping}/shipments`, { address: "x" }],
      [`${running.notifications}/emails`, { subject: "no recipient" }],
    ];
    for (const [url, body] of cases) {
      const response = await post(url, body);
      assert.equal(response.status, 400, `${url} ${JSON.stringify(body)}`);
      assert.equal(response.body.code, "INVALID_BODY");
      assert.equal(typeof response.body.message, "string");
    }
    // Malformed JSON is reported the same way.
    const malformed = await fetch(`${running.payments}/charges`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { code: string }).code, "INVALID_BODY");
  });
});

describe("idempotency ledger", () => {
  // A dedicated instance, so the counts are not disturbed by the other tests.
  const service = createNotificationsService();
  let url: string;

  before(async () => {
    url = await service.listen();
  });

  after(async () => {
    await service.close();
  });

  it("counts calls, effects and per-key receipts", async () => {
    const email = { to: "c@example.com" };
    await post(`${url}/emails`, email, { "Idempotency-Key": "k1" });
    await post(`${url}/emails`, email, { "Idempotency-Key": "k1" });
    await post(`${url}/emails`, email, { "Idempotency-Key": "k2" });
    await post(`${url}/emails`, email); // no key: always applied
    await post(`${url}/_control`, { failNext: 1 });
    await post(`${url}/emails`, email, { "Idempotency-Key": "k3" }); // injected failure
    await post(`${url}/emails`, email, { "Idempotency-Key": "k3" }); // retry succeeds
    await post(`${url}/emails`, {}, { "Idempotency-Key": "k4" }); // invalid: not applied

    const { status, body } = await get(`${url}/_ledger`);
    assert.equal(status, 200);
    assert.deepEqual(body, {
      calls: 7,
      effects: 4,
      byKey: {
        k1: { received: 2, applied: 1 },
        k2: { received: 1, applied: 1 },
        k3: { received: 2, applied: 1 },
        k4: { received: 1, applied: 0 },
      },
    });
    assert.equal(service.emails.size, 4);
  });

  it("rejects reuse of a key on a different route of the same service", async () => {
    const payments = createPaymentsService();
    const base = await payments.listen();
    try {
      const charge = await post(
        `${base}/charges`,
        { orderId: "o", amount: 1 },
        { "Idempotency-Key": "same" },
      );
      assert.equal(charge.status, 201);
      const refund = await post(
        `${base}/refunds`,
        { chargeId: charge.body.id },
        { "Idempotency-Key": "same" },
      );
      assert.equal(refund.status, 422);
      assert.equal(refund.body.code, "IDEMPOTENCY_KEY_REUSED");
    } finally {
      await payments.close();
    }
  });
});
