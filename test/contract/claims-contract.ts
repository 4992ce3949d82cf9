// The store contract: claiming runs, leases, wake-up times and simple reads.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WriteOp } from "../../src/store/store.js";
import { type ContractHelpers, LEASE, T0 } from "./helpers.js";

export function claimsContract(h: ContractHelpers): void {
  const { store, one, newRun, create, getRun, entry, put, complete, suspend, claimAll, expectRun } = h;

  // ---- claiming and leases ---------------------------------------------------------------------

  describe("claimRuns", () => {
    it("claims due runs only, and sets owner, fence, lease and status", async () => {
      await create("due", { now: T0 });
      await create("later", { now: T0 + 100 });
      const claimed = await store().claimRuns({ nodeId: "node-a", limit: 10, leaseMs: 5_000, now: T0 + 50 });
      assert.equal(claimed.length, 1);
      expectRun(claimed[0], {
        runId: "due",
        status: "running",
        owner: "node-a",
        fence: 1,
        leaseExpiresAt: T0 + 5_050,
        wakeAt: undefined,
        startedAt: T0 + 50,
        updatedAt: T0 + 50,
        input: { id: "due" },
      });
      assert.deepEqual(claimed[0], await getRun("due"));
      assert.equal(claimed[0].takeover, undefined, "a due run is no takeover");
      expectRun(await getRun("later"), { status: "pending", owner: undefined });
      assert.deepEqual(await claimAll("node-a", T0 + 99), []);
    });

    it("takes over runs whose lease expired, with fence + 1; the old owner's writes are refused", async () => {
      await create("r1", {}, "node-a");
      await put("r1", 1, entry(0));
      assert.deepEqual(await claimAll("node-b", T0 + LEASE), [], "a lease is valid up to its expiry time");
      const [claimed] = await claimAll("node-b", T0 + LEASE + 1);
      expectRun(claimed, {
        runId: "r1",
        owner: "node-b",
        fence: 2,
        startedAt: T0,
        leaseExpiresAt: T0 + 2 * LEASE + 1,
      });
      assert.equal(claimed.takeover, true, "claimed because the owner's lease ran out");
      assert.deepEqual(await put("r1", 1, entry(1)), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await put("r1", 2, entry(1)), { ok: true });
      assert.equal((await store().loadJournal("r1")).length, 2);
    });

    it("respects the limit, earliest due first", async () => {
      for (const [i, at] of [30, 10, 50, 20, 40].entries()) await create(`r${i}`, { now: T0 + at });
      const first = await store().claimRuns({ nodeId: "node-a", limit: 2, leaseMs: LEASE, now: T0 + 100 });
      assert.deepEqual(first.map((r) => r.runId).sort(), ["r1", "r3"]);
      const second = await store().claimRuns({ nodeId: "node-a", limit: 2, leaseMs: LEASE, now: T0 + 100 });
      assert.deepEqual(second.map((r) => r.runId).sort(), ["r0", "r4"]);
      const third = await store().claimRuns({ nodeId: "node-a", limit: 2, leaseMs: LEASE, now: T0 + 100 });
      assert.deepEqual(
        third.map((r) => r.runId),
        ["r2"],
      );
    });

    it("never claims finished runs", async () => {
      await create("done", {}, "node-a");
      await complete("done", 1);
      await create("killed");
      await one({ type: "terminateRun", runId: "killed", reason: "x", now: T0 });
      await create("failed", {}, "node-a");
      await one({
        type: "completeRun",
        runId: "failed",
        fence: 1,
        status: "failed",
        outputJson: null,
        now: T0,
      });
      assert.deepEqual(await claimAll("node-b", T0 + 100 * LEASE), []);
    });

    it("two concurrent claimers never get the same run", async () => {
      await store().write(
        Array.from({ length: 40 }, (_, i) => ({ type: "createRun", run: newRun(`r${i}`) }) as WriteOp),
      );
      const seen: string[] = [];
      const claimer = async (nodeId: string) => {
        for (;;) {
          const rows = await store().claimRuns({ nodeId, limit: 3, leaseMs: LEASE, now: T0 + 1 });
          if (rows.length === 0) return;
          for (const r of rows) {
            assert.equal(r.owner, nodeId);
            seen.push(r.runId);
          }
        }
      };
      await Promise.all([claimer("node-a"), claimer("node-b"), claimer("node-a2"), claimer("node-b2")]);
      assert.equal(seen.length, 40);
      assert.equal(new Set(seen).size, 40);
      for (const run of (await store().listRuns({ limit: 100 })).runs) assert.equal(run.fence, 1);
    });
  });

  describe("renewLeases", () => {
    it("extends this node's unexpired leases only, and says which", async () => {
      await create("mine", {}, "node-a"); // lease until T0 + LEASE
      await create("expired", { now: T0 - 2 * LEASE }, "node-a"); // lease ran out at T0 - LEASE
      await create("theirs", {}, "node-b");
      const renewed = await store().renewLeases({ nodeId: "node-a", leaseMs: 5_000, now: T0 + 20 });
      assert.deepEqual(renewed, { renewed: ["mine"], cancelRequested: [] });
      expectRun(await getRun("mine"), { leaseExpiresAt: T0 + 5_020, owner: "node-a", fence: 1 });
      expectRun(await getRun("expired"), { leaseExpiresAt: T0 - LEASE, owner: "node-a" });
      expectRun(await getRun("theirs"), { leaseExpiresAt: T0 + LEASE, owner: "node-b" });
      // A lease renewed exactly at its expiry time is still ours.
      const again = await store().renewLeases({ nodeId: "node-a", leaseMs: 1_000, now: T0 + 5_020 });
      assert.deepEqual(again.renewed, ["mine"]);
      expectRun(await getRun("mine"), { leaseExpiresAt: T0 + 6_020 });
      // The expired one is someone else's to take over.
      const [taken] = await claimAll("node-b", T0 + 5_020);
      expectRun(taken, { runId: "expired", owner: "node-b", fence: 2 });
    });
  });

  describe("renewLeases of named runs", () => {
    it("extends only the runs named, so an owned run the node does not know about runs out", async () => {
      await create("known", {}, "node-a");
      await create("unknown", {}, "node-a");
      const first = await store().renewLeases({
        nodeId: "node-a",
        leaseMs: 5_000,
        now: T0 + 20,
        runs: [{ runId: "known", fence: 1 }],
      });
      assert.deepEqual(first, { renewed: ["known"], cancelRequested: [] });
      expectRun(await getRun("known"), { leaseExpiresAt: T0 + 5_020 });
      expectRun(await getRun("unknown"), { leaseExpiresAt: T0 + LEASE });
      const none = await store().renewLeases({ nodeId: "node-a", leaseMs: 5_000, now: T0 + 30, runs: [] });
      assert.deepEqual(none, { renewed: [], cancelRequested: [] });
      expectRun(await getRun("known"), { leaseExpiresAt: T0 + 5_020 });
    });

    it("does not renew, and leaves out of `renewed`, a run the node no longer holds with that fence", async () => {
      await create("kept", {}, "node-a");
      // Leases that ran out, earliest first (claims take expired leases in that order).
      await create("stolen", { now: T0 - 4 * LEASE }, "node-a");
      await create("reclaimed", { now: T0 - 3 * LEASE }, "node-a");
      await create("terminated", {}, "node-a");
      await create("released", {}, "node-a");
      await create("expired", { now: T0 - 2 * LEASE }, "node-a");
      // Another node takes one over; this node claims another again itself (fence 2, same owner).
      const [stolen] = await store().claimRuns({ nodeId: "node-b", limit: 1, leaseMs: LEASE, now: T0 });
      assert.equal(stolen.runId, "stolen");
      const [again] = await store().claimRuns({ nodeId: "node-a", limit: 1, leaseMs: LEASE, now: T0 });
      assert.equal(again.runId, "reclaimed");
      await one({ type: "terminateRun", runId: "terminated", reason: "x", now: T0 });
      await one({ type: "releaseRun", runId: "released", fence: 1, now: T0 });
      const result = await store().renewLeases({
        nodeId: "node-a",
        leaseMs: LEASE,
        now: T0 + 10,
        runs: ["kept", "stolen", "reclaimed", "terminated", "released", "expired", "missing"].map(
          (runId) => ({ runId, fence: 1 }),
        ),
      });
      assert.deepEqual(result, { renewed: ["kept"], cancelRequested: [] });
      expectRun(await getRun("kept"), { leaseExpiresAt: T0 + 10 + LEASE });
      expectRun(await getRun("stolen"), { owner: "node-b", fence: 2, leaseExpiresAt: T0 + LEASE });
      expectRun(await getRun("reclaimed"), { owner: "node-a", fence: 2, leaseExpiresAt: T0 + LEASE });
      // Under its current fence the re-claimed run is renewed.
      const current = await store().renewLeases({
        nodeId: "node-a",
        leaseMs: LEASE,
        now: T0 + 20,
        runs: [{ runId: "reclaimed", fence: 2 }],
      });
      assert.deepEqual(current.renewed, ["reclaimed"]);
      expectRun(await getRun("reclaimed"), { leaseExpiresAt: T0 + 20 + LEASE });
    });
  });

  describe("nextWakeAt", () => {
    it("is the earliest unowned wake-up or instant an owned run can be taken over", async () => {
      assert.equal(await store().nextWakeAt(), undefined);
      await create("owned", {}, "node-a"); // lease until T0 + LEASE, claimable from T0 + LEASE + 1
      assert.equal(await store().nextWakeAt(), T0 + LEASE + 1);
      assert.deepEqual(await claimAll("node-b", T0 + LEASE), []);
      await create("sleeper", {}, "node-a");
      await suspend("sleeper", 1, T0 + 90_000);
      assert.equal(await store().nextWakeAt(), T0 + LEASE + 1);
      await create("due", { now: T0 + 5 });
      assert.equal(await store().nextWakeAt(), T0 + 5);
      await one({ type: "terminateRun", runId: "due", reason: "x", now: T0 });
      await one({ type: "terminateRun", runId: "owned", reason: "x", now: T0 });
      assert.equal(await store().nextWakeAt(), T0 + 90_000);
    });
  });

  // ---- reads -----------------------------------------------------------------------------------

  describe("reads", () => {
    it("getRun of an unknown id is undefined", async () => {
      assert.equal(await store().getRun("nope"), undefined);
    });

    it("loadJournal returns entries in seq order, of that run only", async () => {
      await create("r1", {}, "node-a");
      await create("r2", {}, "node-a");
      for (const seq of [2, 0, 10, 1]) await put("r1", 1, entry(seq));
      await put("r2", 1, entry(5));
      assert.deepEqual(
        (await store().loadJournal("r1")).map((e) => e.seq),
        [0, 1, 2, 10],
      );
      assert.deepEqual(await store().loadJournal("unknown"), []);
    });

    it("countRuns counts every status, optionally for one workflow", async () => {
      await create("a");
      await create("b", { workflow: "other" });
      await create("c", {}, "node-a");
      await create("d", {}, "node-a");
      await complete("d", 1);
      await create("e", { workflow: "other" }, "node-a");
      await suspend("e", 1);
      assert.deepEqual(await store().countRuns(), {
        pending: 2,
        running: 1,
        waiting: 1,
        completed: 1,
        failed: 0,
        cancelled: 0,
        terminated: 0,
      });
      assert.deepEqual(await store().countRuns({ workflow: "other" }), {
        pending: 1,
        running: 0,
        waiting: 1,
        completed: 0,
        failed: 0,
        cancelled: 0,
        terminated: 0,
      });
      assert.deepEqual(await store().countRuns({ workflow: "none" }), {
        pending: 0,
        running: 0,
        waiting: 0,
        completed: 0,
        failed: 0,
        cancelled: 0,
        terminated: 0,
      });
    });
  });
}
