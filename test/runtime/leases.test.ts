import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { LocalClient } from "../../src/client/local-client.js";
import { createEngine } from "../../src/runtime/engine.js";
import { workflow } from "../../src/runtime/workflow.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { deferred, eventually, type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

describe("leases and fencing", () => {
  it("a node that lost its lease cannot write: the run completes once, by the new owner", async () => {
    const gate = deferred<string>();
    const executedBy: string[] = [];
    const make = (node: string, hold: boolean) =>
      workflow("fenced", async (ctx) => {
        const v = await ctx.step("work", async () => {
          executedBy.push(node);
          return hold ? gate.promise : `by ${node}`;
        });
        return v;
      });
    h = await harness([make("A", true)], { leaseMs: 3_000 });
    const { runId } = await h.client.start("fenced", null);
    await untilStatus(h, runId, "running");
    const before = await h.client.describe(runId);
    assert.equal(before.owner, "test-node");
    assert.equal(before.fence, 1);

    // Node A stalls (its heartbeat stops: we simulate by expiring the lease in the database).
    h.store.db.prepare("UPDATE runs SET lease_expires_at = 0 WHERE run_id = ?").run(runId);
    const storeB = new SqliteStore({ path: h.dbPath });
    const engineB = createEngine({
      store: storeB,
      clock: h.clock,
      nodeId: "B",
      workflows: [make("B", false)],
    });
    const takeovers: boolean[] = [];
    engineB.events.on("run:claimed", (e) => takeovers.push(e.takeover === true));
    try {
      await engineB.start();
      const run = await new LocalClient(engineB).result(runId);
      assert.equal(run.status, "completed");
      assert.equal(run.output, "by B");
      assert.equal(run.fence, 2);
      assert.deepEqual(takeovers, [true], "B reports the claim as a lease takeover");
      // A wakes up and finishes its step: the write carries fence 1 and is refused.
      gate.resolve("by A");
      await new Promise((r) => setTimeout(r, 30));
      const journal = await h.store.loadJournal(runId);
      assert.equal(journal.length, 1);
      assert.equal(journal[0].result, "by B");
      assert.equal((await h.client.describe(runId)).output, "by B");
      assert.deepEqual(executedBy, ["A", "B"]);
      assert.ok(
        h.errors.some((e: any) => /STALE_FENCE|RUN_FINISHED/.test(String(e.error?.message))),
        "A noticed it lost the run",
      );
    } finally {
      await engineB.stop();
      await storeB.close();
    }
  });

  it("a node that re-claims its own stalled run adopts it instead of running its step twice", async () => {
    const gate = deferred<string>();
    let executions = 0;
    const wf = workflow("stalled", async (ctx) => {
      const v = await ctx.step("slow", async () => {
        executions++;
        return gate.promise;
      });
      return ctx.step("after", () => `${v}+after`);
    });
    h = await harness([wf], { leaseMs: 3_000 });
    const { runId } = await h.client.start("stalled", null);
    await untilStatus(h, runId, "running");
    // The node stalls past its lease; nobody else is there, so its own next claim pass takes the run.
    h.store.db.prepare("UPDATE runs SET lease_expires_at = 0 WHERE run_id = ?").run(runId);
    h.engine.kick();
    await eventually(async () => (await h.client.describe(runId)).fence === 2, "the re-claim");
    gate.resolve("slow");
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed");
    assert.equal(run.output, "slow+after");
    assert.equal(executions, 1, "the in-flight step was not started again beside itself");
    assert.deepEqual(h.errors, []);
  });

  it("a backoff in progress survives a restart and the attempt count continues", async () => {
    let attempts: number[] = [];
    const wf = workflow("retry-restart", async (ctx) =>
      ctx.step(
        "s",
        ({ attempt }) => {
          attempts.push(attempt);
          if (attempt < 3) throw new Error("not yet");
          return "ok";
        },
        { retry: { maxAttempts: 5, initialIntervalMs: 60_000, jitter: 0 } },
      ),
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("retry-restart", null);
    await untilStatus(h, runId, "waiting");
    const entry = (await h.store.loadJournal(runId))[0];
    assert.equal(entry.status, "retrying");
    assert.equal(entry.wakeAt, h.clock.now() + 60_000);
    await h.restart();
    attempts = [];
    await h.clock.advance(60_000);
    await untilStatus(h, runId, "waiting");
    await h.clock.advance(120_000);
    assert.equal((await h.client.result(runId)).output, "ok");
    assert.deepEqual(attempts, [2, 3]);
  });

  it("stop() releases leases of runs still executing so the next node continues at once", async () => {
    const gate = deferred();
    let runs = 0;
    const wf = workflow("slow", async (ctx) => {
      await ctx.step("slow", async ({ signal }) => {
        runs++;
        if (runs === 1)
          await Promise.race([gate.promise, new Promise((r) => signal.addEventListener("abort", r))]);
        return runs;
      });
      return "finished";
    });
    h = await harness([wf]);
    const { runId } = await h.client.start("slow", null);
    await untilStatus(h, runId, "running");
    await h.restart();
    const run = await h.client.result(runId);
    assert.equal(run.output, "finished");
    assert.equal(runs, 2, "the in-flight step ran again (at least once), on the new engine");
  });

  it("enforces the per-engine concurrency limit", async () => {
    const gates = Array.from({ length: 5 }, () => deferred());
    let running = 0;
    let peak = 0;
    const wf = workflow("limited", async (ctx, i: number) =>
      ctx.step("work", async () => {
        running++;
        peak = Math.max(peak, running);
        await gates[i].promise;
        running--;
        return i;
      }),
    );
    h = await harness([wf], { maxConcurrentRuns: 2 });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await h.client.start("limited", i)).runId);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(running, 2);
    assert.equal((await h.client.list({ status: ["pending"] })).runs.length, 3);
    for (const g of gates) g.resolve();
    for (const id of ids) assert.equal((await h.client.result(id)).status, "completed");
    assert.equal(peak, 2);
  });

  it("fails a run past its deadline (run timeout), compensating", async () => {
    const log: string[] = [];
    const wf = workflow(
      "deadline",
      async (ctx) => {
        await ctx.step("a", () => log.push("a"), { undo: () => log.push("undo a") });
        await ctx.sleep("long", "2h");
        return "late";
      },
      { runTimeoutMs: 3_600_000 },
    );
    h = await harness([wf]);
    const { runId } = await h.client.start("deadline", null);
    await untilStatus(h, runId, "waiting");
    assert.equal((await h.client.describe(runId)).wakeAt, h.clock.now() + 3_600_000);
    await h.clock.advance(3_600_000);
    const run = await h.client.result(runId);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "RUN_TIMEOUT");
    assert.deepEqual(log, ["a", "undo a"]);
  });
});
