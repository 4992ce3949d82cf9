import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

describe("durable timers", () => {
  it("fires no earlier than due, and survives a restart", async () => {
    const wf = workflow("nap", async (ctx) => {
      const before = ctx.now();
      await ctx.sleep("nap", "10m");
      return ctx.now() - before;
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("nap", null);
    await untilStatus(h, runId, "waiting");
    const run = await h.client.describe(runId);
    assert.equal(run.wakeAt, h.clock.now() + 600_000);
    assert.equal(run.owner, undefined, "a waiting run holds no lease");
    await h.restart();
    await h.clock.advance(599_999);
    assert.equal((await h.client.describe(runId)).status, "waiting");
    await h.clock.advance(1);
    const done = await h.client.result(runId);
    assert.equal(done.status, "completed");
    assert.equal(done.output, 600_000);
  });

  it("sleepUntil a past time continues at once", async () => {
    const wf = workflow("past", async (ctx) => {
      await ctx.sleepUntil("then", 0);
      return "on";
    });
    h = await harness([wf]);
    assert.equal((await h.client.result((await h.client.start("past", null)).runId)).output, "on");
  });
});

describe("signals", () => {
  it("delivers a signal sent after the wait began", async () => {
    const wf = workflow("approve", async (ctx) => ctx.waitForSignal<{ ok: boolean }>("approval"));
    h = await harness([wf]);
    const { runId } = await h.client.start("approve", null);
    await untilStatus(h, runId, "waiting");
    await h.client.signal(runId, "approval", { ok: true });
    assert.deepEqual((await h.client.result(runId)).output, { ok: true });
  });

  it("buffers a signal sent before the wait, and consumes signals of one name in order", async () => {
    const wf = workflow("buffered", async (ctx) => {
      await ctx.sleep("first", "1h");
      const a = await ctx.waitForSignal("item");
      const b = await ctx.waitForSignal("item");
      return [a, b];
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("buffered", null);
    await untilStatus(h, runId, "waiting");
    await h.client.signal(runId, "item", 1);
    await h.client.signal(runId, "item", 2);
    await h.client.signal(runId, "other", 3);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(3_600_000);
    assert.deepEqual((await h.client.result(runId)).output, [1, 2]);
    const signals = await h.store.listSignals(runId);
    assert.deepEqual(
      signals.map((s) => [s.name, s.consumedSeq]),
      [
        ["item", 1],
        ["item", 2],
        ["other", undefined],
      ],
    );
  });

  it("times out a wait with SIGNAL_TIMEOUT, which the code can catch", async () => {
    const wf = workflow("deadline", async (ctx) => {
      try {
        return await ctx.waitForSignal("approval", { timeoutMs: 60_000 });
      } catch (err) {
        return `gave up: ${(err as any).code}`;
      }
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("deadline", null);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(59_999);
    assert.equal((await h.client.describe(runId)).status, "waiting");
    await h.clock.advance(1);
    assert.equal((await h.client.result(runId)).output, "gave up: SIGNAL_TIMEOUT");
  });

  it("does not suspend while a signal wait's own write is out, beside another durable wait", async () => {
    // The run has a durable wait open (the sleep) when the code asks for a signal that has already
    // arrived. The idle check scheduled by the end of step "send" runs while the consumeSignal write is
    // still in the batcher: it must not suspend the run, or the code continues (the signal was
    // consumed) into step "after" on a suspended execution and the run is lost (STALE_FENCE).
    let bodyRuns = 0;
    const wf = workflow("consumed-beside-wait", async (ctx) => {
      bodyRuns++;
      const nap = ctx.sleep("nap", "1h");
      nap.catch(() => {}); // rejected (Abandoned) if the run is lost before the code awaits it
      await ctx.step("send", async () => {
        await h.engine.signal(ctx.runId, "go", 7);
      });
      const got = await ctx.waitForSignal<number>("go");
      const after = await ctx.step("after", () => got + 1);
      await nap;
      return after;
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("consumed-beside-wait", null);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(3_600_000);
    const r = await h.client.result(runId);
    assert.equal(r.status, "completed", JSON.stringify(r.error));
    assert.equal(r.output, 8);
    assert.deepEqual(h.errors, []);
    assert.equal(bodyRuns, 1, "the hot execution went on: no loss, no replay");
  });

  it("refuses signals to unknown and finished runs with stable codes", async () => {
    const wf = workflow("quick", async () => "done");
    h = await harness([wf]);
    await assert.rejects(h.client.signal("nope", "x"), { code: "RUN_NOT_FOUND" });
    const { runId } = await h.client.start("quick", null);
    await h.client.result(runId);
    await assert.rejects(h.client.signal(runId, "x"), { code: "RUN_FINISHED" });
    await assert.rejects(h.client.signal(runId, ""), { code: "INVALID_ARGUMENT" });
    await assert.rejects(h.client.signal(runId, "bad\u0000name"), { code: "INVALID_ARGUMENT" });
  });
});

describe("hot cache", () => {
  it("resumes a cached run without replaying it, and replays when the cache is off", async () => {
    for (const [maxCachedRuns, expectedBodyRuns] of [
      [1_000, 1],
      [0, 3],
    ] as const) {
      let bodyRuns = 0;
      const wf = workflow("hot", async (ctx) => {
        bodyRuns++;
        await ctx.step("a", () => 1);
        await ctx.waitForSignal("one");
        await ctx.sleep("s", "1s");
        return ctx.step("b", () => 2);
      });
      h = await harness([wf], { maxCachedRuns });
      const { runId } = await h.client.start("hot", null);
      await untilStatus(h, runId, "waiting");
      await h.client.signal(runId, "one");
      await untilStatus(h, runId, "waiting");
      assert.equal((await h.client.describe(runId)).wakeAt !== undefined, true);
      await h.clock.advance(1_000);
      assert.equal((await h.client.result(runId)).output, 2);
      assert.equal(bodyRuns, expectedBodyRuns, `maxCachedRuns=${maxCachedRuns}`);
      await h.close();
    }
  });
});
