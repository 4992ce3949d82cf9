// Self-fencing: a node stops the runs whose lease it no longer safely holds (taken over by another node,
// or not confirmed by a renewal for most of the lease), aborting their steps' signal, without failing
// them; the run is claimed again and completes, each step exactly once.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { LocalClient } from "../../src/client/local-client.js";
import { createEngine } from "../../src/runtime/engine.js";
import type { EngineEventMap } from "../../src/runtime/events.js";
import { workflow } from "../../src/runtime/workflow.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { TestClock } from "../../src/testing/test-clock.js";
import { deferred, type Harness, harness, untilStatus } from "../helpers/harness.js";

const LEASE = 3_000;
/** When an unconfirmed lease is given up: 80% of the lease. */
const FENCE_AFTER = 2_400;

type LeaseLost = EngineEventMap["run:lease-lost"];

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

/** A step body that runs until its signal aborts, recording the reason. */
function untilAborted(signal: AbortSignal, reasons: unknown[]): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => {
      reasons.push(signal.reason);
      reject(signal.reason);
    });
  });
}

/**
 * A real SQLite store whose renewLeases can be made to fail ("throw": the database is unreachable) or
 * to hang ("hang": a connection cut without a reset; released later with the real answer).
 */
function faultyRenewals(store: SqliteStore) {
  const faults = { mode: "ok" as "ok" | "throw" | "hang", calls: 0 };
  const hung: (() => void)[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === "renewLeases") {
        return async (args: Parameters<Store["renewLeases"]>[0]) => {
          faults.calls++;
          if (faults.mode === "throw") throw new Error("connect ECONNREFUSED (injected)");
          if (faults.mode === "hang") await new Promise<void>((r) => hung.push(r));
          return target.renewLeases(args);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Store;
  const releaseHung = () => {
    for (const release of hung.splice(0)) release();
  };
  return { store: wrapped, faults, releaseHung };
}

/** An engine on a fresh SQLite file behind faultyRenewals, with a TestClock. */
async function faultyNode(workflows: Parameters<typeof createEngine>[0]["workflows"]) {
  const dir = mkdtempSync(join(tmpdir(), "dirigent-fence-"));
  const real = new SqliteStore({ path: join(dir, "test.db") });
  const { store, faults, releaseHung } = faultyRenewals(real);
  const clock = new TestClock();
  const engine = createEngine({ store, clock, workflows, leaseMs: LEASE, nodeId: "a", random: () => 0.5 });
  const errors: { error: any; context: string }[] = [];
  const lost: LeaseLost[] = [];
  const claims: EngineEventMap["run:claimed"][] = [];
  engine.events.on("engine:error", (e) => errors.push(e));
  engine.events.on("run:lease-lost", (e) => lost.push(e));
  engine.events.on("run:claimed", (e) => claims.push(e));
  await engine.start();
  cleanup.push(async () => {
    releaseHung();
    await engine.stop({ graceMs: 0 });
    await real.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { engine, real, clock, faults, releaseHung, errors, lost, claims, client: new LocalClient(engine) };
}

async function untilRunning(store: Store, runId: string) {
  for (let i = 0; i < 2_000; i++) {
    if ((await store.getRun(runId))?.status === "running") return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`run ${runId} never ran`);
}

describe("self-fencing", () => {
  it("a run taken over by another node: the first node's step is aborted at its next renewal, and it writes nothing", async () => {
    const reasons: unknown[] = [];
    const executedBy: string[] = [];
    const make = (node: string) =>
      workflow("taken", async (ctx) =>
        ctx.step("work", async ({ signal }) => {
          executedBy.push(node);
          return node === "A" ? untilAborted(signal, reasons) : `by ${node}`;
        }),
      );
    const h: Harness = await harness([make("A")], { leaseMs: LEASE });
    cleanup.push(() => h.close());
    const lost: LeaseLost[] = [];
    h.engine.events.on("run:lease-lost", (e) => lost.push(e));
    const { runId } = await h.client.start("taken", null);
    await untilStatus(h, runId, "running");
    await h.clock.advance(LEASE / 3); // one renewal that succeeds: no loss while the lease is ours
    assert.equal(lost.length, 0);
    const writesBefore = h.engine.stats().writes;

    // A stalls past its lease (as if its renewals had stopped); node B takes the run over and ends it.
    h.store.db.prepare("UPDATE runs SET lease_expires_at = 0 WHERE run_id = ?").run(runId);
    const storeB = new SqliteStore({ path: h.dbPath });
    const engineB = createEngine({ store: storeB, clock: h.clock, nodeId: "B", workflows: [make("B")] });
    cleanup.push(async () => {
      await engineB.stop({ graceMs: 0 });
      await storeB.close();
    });
    await engineB.start();
    const done = await new LocalClient(engineB).result(runId);
    assert.equal(done.output, "by B");
    assert.equal(reasons.length, 0, "A does not know yet");
    assert.equal(h.engine.stats().active, 1);

    // A's next renewal is refused for this run: its step's signal aborts at once.
    await h.clock.advance(LEASE / 3);
    assert.equal(reasons.length, 1, "A's step saw its signal abort");
    assert.equal((reasons[0] as any).code, "STALE_FENCE");
    assert.equal(lost.length, 1);
    assert.deepEqual(
      { ...lost[0], sinceRenewalMs: undefined },
      { runId, workflow: "taken", fence: 1, reason: "not-renewed", sinceRenewalMs: undefined },
    );
    assert.equal(lost[0].sinceRenewalMs, LEASE / 3);
    assert.equal(h.engine.stats().active, 0, "dropped from A's memory");
    assert.ok(
      h.errors.some(
        (e: any) =>
          e.context === `run ${runId} lost` &&
          e.error.code === "STALE_FENCE" &&
          e.error.details?.reason === "not-renewed",
      ),
      "reported on engine:error",
    );

    // A wrote nothing more: no step outcome, no failed attempt; the journal is B's.
    await h.clock.advance(LEASE);
    assert.equal(h.engine.stats().writes, writesBefore);
    const journal = await h.store.loadJournal(runId);
    assert.deepEqual(
      journal.map((e) => [e.name, e.status, e.result]),
      [["work", "completed", "by B"]],
    );
    assert.deepEqual(await h.store.listAttempts(runId), []);
    assert.deepEqual(executedBy, ["A", "B"]);
    const run = await h.client.describe(runId);
    assert.equal(run.status, "completed");
    assert.equal(run.fence, 2);
  });

  it("a node that keeps renewing keeps its runs, however long a step takes", async () => {
    const gate = deferred<string>();
    const reasons: unknown[] = [];
    const wf = workflow("long", async (ctx) =>
      ctx.step("long", async ({ signal }) => {
        signal.addEventListener("abort", () => reasons.push(signal.reason));
        return gate.promise;
      }),
    );
    const node = await faultyNode([wf]);
    const { runId } = await node.client.start("long", null);
    await untilRunning(node.real, runId);
    await node.clock.advance(20 * LEASE);
    assert.equal(reasons.length, 0);
    assert.equal(node.lost.length, 0);
    assert.ok(node.faults.calls >= 59, `renewed every third of the lease (${node.faults.calls} renewals)`);
    gate.resolve("done");
    assert.equal((await node.client.result(runId)).output, "done");
    assert.deepEqual(node.errors, []);
  });

  it("renewals failing: the node aborts its runs before the lease runs out, and completes them once renewals work again", async () => {
    const reasons: unknown[] = [];
    const bodies = { one: 0, two: 0 };
    const wf = workflow("outage", async (ctx) => {
      const one = await ctx.step("one", async ({ signal }) => {
        bodies.one++;
        return bodies.one === 1 ? untilAborted(signal, reasons) : "one";
      });
      const two = await ctx.step("two", () => {
        bodies.two++;
        return "two";
      });
      return `${one}+${two}`;
    });
    const node = await faultyNode([wf]);
    const { runId } = await node.client.start("outage", null);
    await untilRunning(node.real, runId);
    const t0 = node.clock.now();
    await node.clock.advance(LEASE / 3); // renewed at t0 + 1000: the lease now runs out at t0 + 4000
    assert.equal(node.faults.calls, 1);

    node.faults.mode = "throw";
    await node.clock.advance(FENCE_AFTER - 1); // t0 + 3399: two renewals failed, still within the margin
    assert.equal(node.faults.calls, 3);
    assert.equal(reasons.length, 0);
    assert.equal(node.errors.filter((e) => e.context === "lease renewal").length, 2);
    await node.clock.advance(1); // t0 + 3400: 2400 ms since the last renewal that worked was sent
    assert.equal(reasons.length, 1, "the step's signal aborted");
    assert.equal((reasons[0] as any).code, "STALE_FENCE");
    assert.deepEqual(node.lost, [
      { runId, workflow: "outage", fence: 1, reason: "renewal-overdue", sinceRenewalMs: FENCE_AFTER },
    ]);
    assert.equal(node.engine.stats().active, 0);
    // Not failed: still owned in the database until its lease runs out, nothing written for the step.
    const held = await node.real.getRun(runId);
    assert.equal(held?.status, "running");
    assert.equal(held?.leaseExpiresAt, t0 + LEASE / 3 + LEASE);
    assert.deepEqual(await node.real.loadJournal(runId), []);

    node.faults.mode = "ok";
    await node.clock.advance(LEASE); // past the lease: claimed again by this node, replayed
    assert.equal((await node.client.result(runId)).output, "one+two");
    assert.deepEqual(bodies, { one: 2, two: 1 }, "the aborted attempt ran again, nothing else did");
    const journal = await node.real.loadJournal(runId);
    assert.deepEqual(
      journal.map((e) => [e.name, e.status, e.attempt]),
      [
        ["one", "completed", 1],
        ["two", "completed", 1],
      ],
    );
    assert.deepEqual(await node.real.listAttempts(runId), [], "the aborted attempt was not recorded");
    assert.deepEqual(
      node.claims.map((c) => [c.fence, c.takeover === true]),
      [
        [1, false],
        [2, true],
      ],
    );
    assert.equal(node.lost.length, 1);
  });

  it("a renewal that hangs neither keeps the run going nor stops the renewals after it", async () => {
    const reasons: unknown[] = [];
    const gate = deferred<string>();
    let bodies = 0;
    const wf = workflow("hang", async (ctx) =>
      ctx.step("s", async ({ signal }) => {
        bodies++;
        if (bodies === 1) return untilAborted(signal, reasons);
        signal.addEventListener("abort", () => reasons.push(signal.reason));
        return gate.promise;
      }),
    );
    const node = await faultyNode([wf]);
    const { runId } = await node.client.start("hang", null);
    await untilRunning(node.real, runId);
    node.faults.mode = "hang";
    await node.clock.advance(FENCE_AFTER); // the renewal sent at +1000 never answers
    assert.equal(reasons.length, 1, "aborted although no renewal failed outright");
    assert.equal(node.lost[0]?.reason, "renewal-overdue");

    node.faults.mode = "ok";
    // The lease runs out at +3000 and the node claims the run again; its renewals resume one lease after
    // the hung one was sent (+4000) and keep the new claim alive.
    await node.clock.advance(10 * LEASE);
    assert.equal(bodies, 2);
    assert.equal(reasons.length, 1, "the second execution was not fenced");
    assert.equal(node.lost.length, 1);
    gate.resolve("ok");
    assert.equal((await node.client.result(runId)).output, "ok");
    node.releaseHung(); // the hung answer, arriving late, changes nothing
    await node.clock.advance(0);
    assert.equal(node.lost.length, 1);
  });
});
