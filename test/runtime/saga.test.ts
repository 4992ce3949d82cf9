import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { TerminalError } from "../../src/core/errors.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

function saga(log: string[], options: { failAt?: string; undoFailsOnce?: boolean } = {}) {
  let undoFailures = 0;
  return workflow("saga", async (ctx) => {
    const step = (name: string) =>
      ctx.step(
        name,
        () => {
          if (options.failAt === name) throw new TerminalError(`${name} failed`);
          log.push(`do ${name}`);
          return `${name}-id`;
        },
        {
          undo: (id) => {
            if (options.undoFailsOnce && name === "b" && undoFailures++ === 0)
              throw new Error("refund service down");
            log.push(`undo ${id}`);
          },
        },
      );
    await step("a");
    await step("b");
    await ctx.step("no-undo", () => log.push("do no-undo"));
    await ctx.waitForSignal("continue");
    await step("c");
    return "done";
  });
}

describe("saga compensation", () => {
  it("on cancel, runs the undos of completed steps in reverse, then ends cancelled", async () => {
    const log: string[] = [];
    h = await harness([saga(log)]);
    const { runId } = await h.client.start("saga", null);
    await untilStatus(h, runId, "waiting");
    await h.client.cancel(runId);
    const run = await h.client.result(runId);
    assert.equal(run.status, "cancelled");
    assert.equal(run.error?.code, "RUN_CANCELLED");
    assert.deepEqual(log, ["do a", "do b", "do no-undo", "undo b-id", "undo a-id"]);
    const hist = await h.client.history(runId);
    assert.deepEqual(
      hist.events.filter((e) => e.type.startsWith("undo")).map((e) => `${e.type} ${e.name}`),
      ["undo:completed undo:b", "undo:completed undo:a"],
    );
  });

  it("on failure, compensates and ends failed with the original error", async () => {
    const log: string[] = [];
    h = await harness([saga(log, { failAt: "c" })]);
    const { runId } = await h.client.start("saga", null);
    await untilStatus(h, runId, "waiting");
    await h.client.signal(runId, "continue");
    const run = await h.client.result(runId);
    assert.equal(run.status, "failed");
    assert.match(run.error!.message, /step "c" failed: c failed/);
    assert.deepEqual(log, ["do a", "do b", "do no-undo", "undo b-id", "undo a-id"]);
  });

  it("retries a failing undo durably, across a restart, and still runs the rest", async () => {
    const log: string[] = [];
    h = await harness([saga(log, { failAt: "c", undoFailsOnce: true })], { maxCachedRuns: 0 });
    const { runId } = await h.client.start("saga", null);
    await untilStatus(h, runId, "waiting");
    await h.client.signal(runId, "continue");
    await untilStatus(h, runId, "waiting"); // undo b failed once: backoff
    await h.restart();
    await h.clock.advance(60_000);
    const run = await h.client.result(runId);
    assert.equal(run.status, "failed");
    assert.deepEqual(log, ["do a", "do b", "do no-undo", "undo b-id", "undo a-id"]);
    const undoB = (await h.client.history(runId)).journal.find((e) => e.name === "undo:b");
    assert.equal(undoB?.attempt, 2);
  });

  it("a cancel of a run replayed from scratch compensates without running new steps", async () => {
    const log: string[] = [];
    h = await harness([saga(log)], { maxCachedRuns: 0 });
    const { runId } = await h.client.start("saga", null);
    await untilStatus(h, runId, "waiting");
    await h.restart();
    await h.client.cancel(runId);
    const run = await h.client.result(runId);
    assert.equal(run.status, "cancelled");
    assert.deepEqual(log, ["do a", "do b", "do no-undo", "undo b-id", "undo a-id"]);
  });
});

describe("terminate", () => {
  it("ends a run at once, without compensation, and refuses the old owner's writes", async () => {
    const log: string[] = [];
    let release!: () => void;
    const wf = workflow("term", async (ctx) => {
      await ctx.step("a", () => log.push("a"), { undo: () => log.push("undo a") });
      await ctx.step("hang", () => new Promise<void>((r) => (release = r)));
      await ctx.step("after", () => log.push("after"));
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("term", null);
    await untilStatus(h, runId, "running");
    while (!release) await new Promise((r) => setTimeout(r, 1));
    await h.client.terminate(runId, "stuck");
    release();
    const run = await h.client.result(runId);
    assert.equal(run.status, "terminated");
    assert.equal(run.error?.message, "stuck");
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(log, ["a"]);
    const journal = await h.store.loadJournal(runId);
    assert.deepEqual(
      journal.map((e) => e.name),
      ["a"],
      "the hanging step's late result was not written",
    );
    await assert.rejects(h.client.terminate(runId), { code: "RUN_FINISHED" });
  });
});
