import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { type OrderServices, startOrderServices } from "../../examples/order/services/index.js";
import { parseRetryAfter } from "../../src/runtime/http-step.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

let services: OrderServices;
let h: Harness;
before(async () => {
  services = await startOrderServices();
});
after(() => services.close());
afterEach(() => h?.close());

const control = (url: string, body: unknown) =>
  fetch(`${url}/_control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("ctx.http", () => {
  it("sends the step's idempotency key and returns status and parsed body", async () => {
    const wf = workflow("charge", async (ctx, base: string) => {
      const res = await ctx.http("charge", {
        method: "POST",
        url: `${base}/charges`,
        body: { orderId: "o1", amount: 10 },
      });
      return { status: res.status, body: res.body };
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("charge", services.payments, { runId: "http-1" });
    const run = await h.client.result(runId);
    assert.equal((run.output as any).status, 201);
    assert.equal((run.output as any).body.status, "captured");
    const ledger = await (await fetch(`${services.payments}/_ledger`)).json();
    assert.deepEqual(ledger.byKey["http-1:0"], { received: 1, applied: 1 });
  });

  it("retries 5xx with backoff under the same key, and applies the effect once", async () => {
    await control(services.shipping, { reset: true, failNext: 2 });
    const wf = workflow(
      "ship",
      async (ctx, base: string) =>
        (
          await ctx.http(
            "ship",
            { method: "POST", url: `${base}/shipments`, body: { orderId: "o2", address: "x" } },
            { retry: { initialIntervalMs: 1_000, jitter: 0 } },
          )
        ).body,
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("ship", services.shipping, { runId: "http-2" });
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(1_000);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(2_000);
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    const ledger = await (await fetch(`${services.shipping}/_ledger`)).json();
    assert.deepEqual(ledger.byKey["http-2:0"], { received: 3, applied: 1 });
    const hist = await h.client.history(runId);
    assert.deepEqual(
      hist.attempts.map((a) => a.error.code),
      ["HTTP_503", "HTTP_503"],
    );
  });

  it("fails at once on a 4xx, without retrying", async () => {
    const wf = workflow("bad", async (ctx, base: string) =>
      ctx.http("refund", { method: "POST", url: `${base}/refunds`, body: { chargeId: "nope" } }),
    );
    h = await harness([wf]);
    const run = await h.client.result((await h.client.start("bad", services.payments)).runId);
    assert.equal(run.status, "failed");
    assert.match(run.error!.message, /answered 404/);
    assert.equal((run.error!.details as any).cause.code, "HTTP_404");
  });

  it("reads Retry-After in seconds and as a date", () => {
    assert.equal(parseRetryAfter("3"), 3_000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(parseRetryAfter("soon"), undefined);
  });
});
