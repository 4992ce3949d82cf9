// Workflows and a clock for the dashboard's browser test.
import { setTimeout as delay } from "node:timers/promises";
import type { Clock, TimerHandle } from "../../src/core/clock.js";
import { TerminalError } from "../../src/core/errors.js";
import { type WorkflowDefinition, workflow } from "../../src/runtime/workflow.js";

/**
 * The real clock, plus `jump(ms)`: time leaps forward and every timer that became due fires at once.
 * Steps keep real durations (so the timeline has real bars), while a retry's backoff is jumped over
 * instead of waited for.
 */
export class JumpClock implements Clock {
  private offsetMs = 0;
  private nextId = 1;
  private timers = new Map<number, { due: number; fn: () => void; real: NodeJS.Timeout }>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const due = this.now() + Math.max(0, ms);
    const real = setTimeout(() => this.fire(id), Math.max(0, Math.min(ms, 2_147_483_647)));
    real.unref();
    this.timers.set(id, { due, fn, real });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const t = this.timers.get(handle.id as number);
    if (t) clearTimeout(t.real);
    this.timers.delete(handle.id as number);
  }

  /** Move time forward by `ms`, firing the timers now due, earliest first. */
  jump(ms: number): void {
    this.offsetMs += ms;
    const due = [...this.timers.entries()]
      .filter(([, t]) => t.due <= this.now())
      .sort((a, b) => a[1].due - b[1].due);
    for (const [id] of due) this.fire(id);
  }

  private fire(id: number): void {
    const t = this.timers.get(id);
    if (!t) return;
    this.timers.delete(id);
    clearTimeout(t.real);
    t.fn();
  }
}

/** Switches the test flips, as an operator would fix a downstream service. */
export const faults = { cardDeclined: true };

/** Backoff before the second attempt of the flaky charge: jumped over by the test. */
export const FLAKY_BACKOFF_MS = 4_000;

/** Some real work, so steps have a duration on the timeline. */
const work = (ms: number) => delay(ms);

interface Order {
  id: string;
  amount: number;
}

export const shipOrder = workflow("ship-order", async (ctx, input: { orderId: string }) => {
  const courier = await ctx.step("book-courier", async () => {
    await work(40);
    return { courier: "fast-freight" };
  });
  const label = await ctx.step("print-label", async () => {
    await work(20);
    return { tracking: `TRK-${input.orderId}` };
  });
  return { ...courier, ...label };
});

/** Fails its charge once (a timeout), succeeds on the retry, sends two receipts at once, ships in a child. */
export const flakyOrder = workflow("flaky-order", async (ctx, order: Order) => {
  const reservation = await ctx.step("reserve-stock", async () => {
    await work(30);
    return { reserved: order.id };
  });
  const charge = await ctx.step(
    "charge-card",
    async ({ attempt }) => {
      await work(50);
      if (attempt === 1) throw new Error("payment gateway timed out");
      return { chargeId: `ch-${order.id}`, amount: order.amount };
    },
    { retry: { maxAttempts: 3, initialIntervalMs: FLAKY_BACKOFF_MS, jitter: 0 } },
  );
  await Promise.all([
    ctx.step("email-receipt", async () => {
      await work(60);
      return { sent: "email" };
    }),
    ctx.step("sms-receipt", async () => {
      await work(40);
      return { sent: "sms" };
    }),
  ]);
  const shipment = await ctx.child(shipOrder, { orderId: order.id });
  return { reservation, charge, shipment };
});

/** Its card is declined for good (TerminalError) until the test clears the fault; then a retry completes. */
export const doomedOrder = workflow("doomed-order", async (ctx, order: Order) => {
  await ctx.step("validate-order", async () => {
    await work(20);
    return { valid: true };
  });
  const charge = await ctx.step("charge-card", async () => {
    await work(30);
    if (faults.cardDeclined) throw new TerminalError("card declined by issuer", { code: "CARD_DECLINED" });
    return { chargeId: `ch-${order.id}` };
  });
  await ctx.step("confirm-order", async () => {
    await work(20);
    return { confirmed: true };
  });
  return { charge };
});

/** Waits for a person's approval (a signal) and returns it. */
export const approval = workflow("approval", async (ctx, request: { what: string }) => {
  await ctx.step("prepare", () => ({ prepared: request.what }));
  const decision = await ctx.waitForSignal<{ approved: boolean; by: string }>("approve");
  return { what: request.what, decision };
});

/** Hands a task to the "labels" queue for a remote worker. */
export const labelOrder = workflow("label-order", async (ctx, input: { orderId: string }) => {
  return ctx.task("print-label", { queue: "labels", input });
});

export const nightlyReport = workflow("nightly-report", async (ctx) => {
  return ctx.step("build-report", () => ({ rows: 42 }));
});

export const dashboardWorkflows: WorkflowDefinition[] = [
  shipOrder,
  flakyOrder,
  doomedOrder,
  approval,
  labelOrder,
  nightlyReport,
];
