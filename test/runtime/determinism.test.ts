import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

const original = workflow("order", async (ctx) => {
  await ctx.step("charge", () => "c");
  await ctx.waitForSignal("go");
  await ctx.step("ship", () => "s");
  return "done";
});

async function startWaiting() {
  h = await harness([original]);
  const { runId } = await h.client.start("order", null);
  await untilStatus(h, runId, "waiting");
  return runId;
}

describe("nondeterminism", () => {
  it("fails loudly when a recorded step was renamed, naming both entries", async () => {
    const runId = await startWaiting();
    const renamed = workflow("order", async (ctx) => {
      await ctx.step("take-payment", () => "c");
      await ctx.waitForSignal("go");
      return "done";
    });
    await h.restart([renamed]);
    await h.client.signal(runId, "go");
    const run = await h.client.result(runId);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "NONDETERMINISM");
    assert.match(
      run.error!.message,
      /seq 0: the code now calls step\("take-payment"\) but the journal recorded step\("charge"\)/,
    );
    assert.deepEqual(run.error?.details, {
      seq: 0,
      expected: 'step("take-payment")',
      recorded: 'step("charge")',
    });
  });

  it("fails when steps were reordered", async () => {
    const runId = await startWaiting();
    const reordered = workflow("order", async (ctx) => {
      await ctx.waitForSignal("go");
      await ctx.step("charge", () => "c");
      return "done";
    });
    await h.restart([reordered]);
    await h.client.signal(runId, "go");
    const run = await h.client.result(runId);
    assert.equal(run.error?.code, "NONDETERMINISM");
    assert.match(run.error!.message, /signal\("go"\).*step\("charge"\)/);
  });

  it("fails when a recorded step was removed and the code returns early", async () => {
    const runId = await startWaiting();
    const removed = workflow("order", async () => "done");
    await h.restart([removed]);
    await h.client.signal(runId, "go");
    const run = await h.client.result(runId);
    assert.equal(run.error?.code, "NONDETERMINISM");
    assert.match(run.error!.message, /nothing \(the workflow returned\).*step\("charge"\)/);
  });

  it("cannot be swallowed by workflow code that catches everything", async () => {
    const runId = await startWaiting();
    const sneaky = workflow("order", async (ctx) => {
      try {
        await ctx.step("other", () => 1);
      } catch {
        // swallow
      }
      return "pretend fine";
    });
    await h.restart([sneaky]);
    await h.client.signal(runId, "go");
    const run = await h.client.result(runId);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "NONDETERMINISM");
  });

  it("keeps additions after the recorded history working (appending steps is safe)", async () => {
    const runId = await startWaiting();
    const extended = workflow("order", async (ctx) => {
      await ctx.step("charge", () => "c");
      await ctx.waitForSignal("go");
      await ctx.step("ship", () => "s");
      await ctx.step("confirm", () => "e");
      return "done+";
    });
    await h.restart([extended]);
    await h.client.signal(runId, "go");
    assert.equal((await h.client.result(runId)).output, "done+");
  });

  it("replays now(), uuid() and random() identically", async () => {
    const seen: unknown[] = [];
    const wf = workflow("values", async (ctx) => {
      const v = { now: ctx.now(), uuid: ctx.uuid(), random: ctx.random() };
      seen.push(v);
      await ctx.waitForSignal("go");
      return v;
    });
    h = await harness([wf], { maxCachedRuns: 0 });
    const { runId } = await h.client.start("values", null);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(5_000);
    await h.client.signal(runId, "go");
    const run = await h.client.result(runId);
    assert.equal(seen.length, 2, "replayed once");
    assert.deepEqual(seen[0], seen[1]);
    assert.deepEqual(run.output, seen[0]);
  });
});
