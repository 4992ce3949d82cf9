import { workflow } from "../../src/runtime/workflow.js";

/**
 * Workflows whose recorded journals are committed under fixtures/. Changing these in a way that no
 * longer matches the recorded journals makes test/replay/replay.test.ts fail: that is the point. To
 * change one on purpose, give it a new version and record a new fixture (see record.ts).
 */
export const replayOrder = workflow("replay-order", async (ctx, order: { id: string; amount: number }) => {
  const charge = await ctx.step("charge", () => ({ id: `ch-${order.id}`, amount: order.amount }));
  const [label, invoice] = await Promise.all([
    ctx.step("label", () => `label-${order.id}`),
    ctx.step("invoice", () => `inv-${order.id}`),
  ]);
  const placedAt = ctx.now();
  const ref = ctx.uuid();
  await ctx.sleep("cool-off", "1h");
  const approval = await ctx.waitForSignal<{ by: string }>("approval");
  const confirm = await ctx.step("confirm", () => `confirmed by ${approval.by}`);
  return { charge, label, invoice, placedAt, ref, confirm };
});

/** The same workflow with a step renamed: replaying the fixture against it must fail loudly. */
export const replayOrderRenamed = workflow(
  "replay-order",
  async (ctx, order: { id: string; amount: number }) => {
    await ctx.step("take-payment", () => ({ id: `ch-${order.id}`, amount: order.amount }));
    return null;
  },
);
