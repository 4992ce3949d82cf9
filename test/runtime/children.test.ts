import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { TerminalError } from "../../src/core/errors.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

const child = workflow("child", async (ctx, n: number) => {
  await ctx.sleep("think", "1m");
  if (n < 0)
    await ctx.step("explode", () => {
      throw new TerminalError("negative");
    });
  return ctx.step("double", () => n * 2);
});

describe("child runs", () => {
  it("starts a child with a stable id, waits durably and gets its result", async () => {
    const parent = workflow("parent", async (ctx, n: number) => {
      const doubled = await ctx.child(child, n);
      return doubled + 1;
    });
    h = await harness([parent, child]);
    const { runId } = await h.client.start("parent", 20, { runId: "p1" });
    await untilStatus(h, "p1:0", "waiting");
    await untilStatus(h, runId, "waiting");
    const kid = await h.client.describe("p1:0");
    assert.equal(kid.parentRunId, "p1");
    assert.equal(kid.parentSeq, 0);
    assert.deepEqual(
      (await h.client.list({ parentRunId: "p1" })).runs.map((r) => r.runId),
      ["p1:0"],
    );
    await h.restart();
    await h.clock.advance(60_000);
    const run = await h.client.result(runId);
    assert.equal(run.output, 41);
    const journal = await h.store.loadJournal(runId);
    assert.deepEqual(journal[0].detail, { childRunId: "p1:0", childWorkflow: "child" });
  });

  it("throws CHILD_FAILED into the parent when the child fails", async () => {
    const parent = workflow("parent", async (ctx) => {
      try {
        await ctx.child("child", -1);
        return "no";
      } catch (err) {
        return (err as any).code;
      }
    });
    h = await harness([parent, child]);
    const { runId } = await h.client.start("parent", null);
    await untilStatus(h, `${runId}:0`, "waiting");
    await h.clock.advance(60_000);
    assert.equal((await h.client.result(runId)).output, "CHILD_FAILED");
    assert.equal((await h.client.describe(`${runId}:0`)).status, "failed");
  });

  it("wakes the parent when its child is terminated", async () => {
    const parent = workflow("parent", async (ctx) => {
      try {
        return await ctx.child("child", 1, { runId: "kid" });
      } catch (err) {
        return `child ended: ${(err as any).details.cause.code}`;
      }
    });
    h = await harness([parent, child]);
    const { runId } = await h.client.start("parent", null);
    await untilStatus(h, "kid", "waiting");
    await h.client.terminate("kid", "operator");
    assert.equal((await h.client.result(runId)).output, "child ended: RUN_TERMINATED");
  });

  it("refuses a child workflow that is not registered", async () => {
    const parent = workflow("parent", async (ctx) => ctx.child("ghost", 1));
    h = await harness([parent]);
    const run = await h.client.result((await h.client.start("parent", null)).runId);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "WORKFLOW_NOT_FOUND");
  });
});
