// The store contract: run statistics, listing with filters and cursors, batches and migrations.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDirigentError } from "../../src/core/errors.js";
import type { RunRecord } from "../../src/core/types.js";
import type { WriteOp } from "../../src/store/store.js";
import { type ContractHelpers, LEASE, T0 } from "./helpers.js";

export function listContract(h: ContractHelpers): void {
  const { store, one, newRun, create, getRun, entry, put, complete, expectRun } = h;

  describe("runStats", () => {
    it("counts runs per bucket, the failure rate and completed step latency", async () => {
      const step = (runId: string, seq: number, kind: "step" | "task" | "sleep", d: number, over = {}) =>
        put(
          runId,
          1,
          entry(seq, { kind, startedAt: T0 + 100 * seq, updatedAt: T0 + 100 * seq + d, ...over }),
        );
      await create("a", { now: T0 }, "node-a");
      await create("b", { now: T0 + 59_999 }, "node-a");
      await create("c", { now: T0 + 61_000 }, "node-a");
      await create("d", { now: T0 + 1, workflow: "other" }, "node-a");
      await create("late", { now: T0 + 120_000 });
      await step("a", 0, "step", 10);
      await step("a", 1, "step", 20);
      await step("a", 2, "task", 40);
      await step("a", 3, "sleep", 999);
      await step("a", 4, "step", 50, { status: "failed" });
      await step("b", 5, "step", 300);
      await step("b", 6, "step", 5, { updatedAt: T0 + 120_000 }); // outside the window
      await step("d", 7, "step", 7);
      await complete("a", 1, T0 + 30_000);
      await one({
        type: "completeRun",
        runId: "c",
        fence: 1,
        status: "failed",
        outputJson: null,
        now: T0 + 70_000,
      });
      await one({
        type: "completeRun",
        runId: "d",
        fence: 1,
        status: "cancelled",
        outputJson: null,
        now: T0 + 1,
      });
      const stats = await store().runStats({ since: T0, until: T0 + 120_000, bucketMs: 60_000 });
      assert.deepEqual(stats, {
        bucketMs: 60_000,
        buckets: [
          { t: T0, started: 3, completed: 1, failed: 0 },
          { t: T0 + 60_000, started: 1, completed: 0, failed: 1 },
        ],
        failureRate: 0.5,
        stepLatencyMs: { count: 5, p50: 20, p95: 300, p99: 300 },
      });
      const other = await store().runStats({
        since: T0,
        until: T0 + 60_000,
        bucketMs: 60_000,
        workflow: "other",
      });
      assert.deepEqual(other, {
        bucketMs: 60_000,
        buckets: [{ t: T0, started: 1, completed: 0, failed: 0 }],
        failureRate: null,
        stepLatencyMs: { count: 1, p50: 7, p95: 7, p99: 7 },
      });
    });
  });

  describe("listRuns", () => {
    /** 12 runs: created at T0 + 0..5 (two per millisecond), two workflows, a few statuses. */
    const seed = async () => {
      const ops: WriteOp[] = [];
      for (let i = 0; i < 12; i++) {
        ops.push({
          type: "createRun",
          run: newRun(`run-${String(i).padStart(2, "0")}`, {
            workflow: i % 3 === 0 ? "billing" : "shipping",
            now: T0 + Math.floor(i / 2),
            parentRunId: i >= 10 ? "run-00" : undefined,
            parentSeq: i >= 10 ? i : undefined,
          }),
          claim: i % 4 === 1 ? { nodeId: "node-a", leaseMs: LEASE } : undefined,
        });
      }
      const results = await store().write(ops);
      assert.ok(results.every((r) => r.ok && r.created));
    };
    const ids = (runs: RunRecord[]) => runs.map((r) => r.runId);

    it("lists newest first, ties by run id descending", async () => {
      await seed();
      const page = await store().listRuns({});
      assert.deepEqual(ids(page.runs), [
        "run-11",
        "run-10",
        "run-09",
        "run-08",
        "run-07",
        "run-06",
        "run-05",
        "run-04",
        "run-03",
        "run-02",
        "run-01",
        "run-00",
      ]);
      assert.equal(page.nextCursor, undefined);
    });

    it("filters by status, workflow, creation time, id substring and parent", async () => {
      await seed();
      assert.deepEqual(ids((await store().listRuns({ status: ["running"] })).runs), [
        "run-09",
        "run-05",
        "run-01",
      ]);
      assert.deepEqual(ids((await store().listRuns({ status: ["running", "pending"] })).runs).length, 12);
      assert.deepEqual(ids((await store().listRuns({ status: ["completed"] })).runs), []);
      assert.deepEqual(ids((await store().listRuns({ workflow: "billing" })).runs), [
        "run-09",
        "run-06",
        "run-03",
        "run-00",
      ]);
      // createdAfter is inclusive, createdBefore exclusive.
      assert.deepEqual(ids((await store().listRuns({ createdAfter: T0 + 2, createdBefore: T0 + 4 })).runs), [
        "run-07",
        "run-06",
        "run-05",
        "run-04",
      ]);
      assert.deepEqual(ids((await store().listRuns({ idContains: "-1" })).runs), ["run-11", "run-10"]);
      assert.deepEqual(
        ids((await store().listRuns({ idContains: "RUN" })).runs),
        [],
        "idContains is case-sensitive",
      );
      assert.deepEqual(ids((await store().listRuns({ parentRunId: "run-00" })).runs), ["run-11", "run-10"]);
      assert.deepEqual(
        ids(
          (await store().listRuns({ workflow: "shipping", status: ["running"], createdBefore: T0 + 3 })).runs,
        ),
        ["run-05", "run-01"],
      );
    });

    it("pages with a cursor, with no duplicates or gaps", async () => {
      await seed();
      const all = ids((await store().listRuns({})).runs);
      for (const limit of [1, 5, 7, 12]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store().listRuns({ limit, cursor });
          assert.ok(page.runs.length <= limit);
          seen.push(...ids(page.runs));
          cursor = page.nextCursor;
          pages++;
        } while (cursor);
        assert.deepEqual(seen, all, `limit ${limit}`);
        assert.equal(pages, Math.ceil(12 / limit), `limit ${limit}: no empty last page`);
      }
      // With a filter, the cursor keeps to the filter.
      const first = await store().listRuns({ workflow: "shipping", limit: 5 });
      assert.ok(first.nextCursor);
      const second = await store().listRuns({ workflow: "shipping", limit: 5, cursor: first.nextCursor });
      assert.deepEqual(
        [...ids(first.runs), ...ids(second.runs)],
        ["run-11", "run-10", "run-08", "run-07", "run-05", "run-04", "run-02", "run-01"],
      );
      assert.equal(second.nextCursor, undefined);
    });

    it("a run created between pages does not shift later pages", async () => {
      await seed();
      const first = await store().listRuns({ limit: 4 });
      await create("run-new", { now: T0 + 100 });
      const rest = await store().listRuns({ limit: 100, cursor: first.nextCursor });
      assert.equal(rest.runs.length, 8);
      assert.equal(rest.runs[0].runId, "run-07");
    });

    it("defaults to 50 per page and caps the limit at 1000", async () => {
      await store().write(
        Array.from(
          { length: 55 },
          (_, i) => ({ type: "createRun", run: newRun(`r${i}`, { now: T0 + i }) }) as WriteOp,
        ),
      );
      const page = await store().listRuns({});
      assert.equal(page.runs.length, 50);
      assert.ok(page.nextCursor);
      assert.equal((await store().listRuns({ cursor: page.nextCursor })).runs.length, 5);
      assert.equal((await store().listRuns({ limit: 5_000 })).runs.length, 55);
      assert.equal((await store().listRuns({ limit: 0 })).runs.length, 1);
    });

    it("refuses a cursor it did not issue", async () => {
      await seed();
      for (const cursor of ["garbage", "bm90IGpzb24", Buffer.from('{"a":1}').toString("base64url")]) {
        await assert.rejects(
          store().listRuns({ cursor }),
          (e: unknown) => isDirigentError(e) && e.code === "INVALID_ARGUMENT",
          cursor,
        );
      }
    });
  });

  // ---- batches and migrations ------------------------------------------------------------------

  describe("write batches", () => {
    it("a refused operation does not stop the others; results come back in order", async () => {
      await create("r1", {}, "node-a");
      const results = await store().write([
        { type: "putEntry", runId: "r1", fence: 1, entry: entry(0) },
        { type: "putEntry", runId: "r1", fence: 9, entry: entry(1) },
        { type: "deliverSignal", runId: "ghost", name: "go", payloadJson: null, now: T0 },
        { type: "createRun", run: newRun("r2") },
        { type: "putEntry", runId: "r1", fence: 1, entry: entry(2) },
      ]);
      assert.deepEqual(results, [
        { ok: true },
        { ok: false, code: "STALE_FENCE" },
        { ok: false, code: "RUN_NOT_FOUND" },
        { ok: true, created: true },
        { ok: true },
      ]);
      assert.deepEqual(
        (await store().loadJournal("r1")).map((e) => e.seq),
        [0, 2],
      );
      assert.ok(await store().getRun("r2"));
    });

    it("operations see the effects of earlier ones in the same batch", async () => {
      const results = await store().write([
        { type: "createRun", run: newRun("r1"), claim: { nodeId: "node-a", leaseMs: LEASE } },
        { type: "putEntry", runId: "r1", fence: 1, entry: entry(0) },
        { type: "deliverSignal", runId: "r1", name: "go", payloadJson: "1", now: T0 },
        { type: "consumeSignal", runId: "r1", fence: 1, seq: 1, name: "w", signalName: "go", now: T0 },
        { type: "terminateRun", runId: "r1", reason: "x", now: T0 },
        { type: "putEntry", runId: "r1", fence: 1, entry: entry(2) },
        { type: "deliverSignal", runId: "r1", name: "go", payloadJson: "2", now: T0 },
      ]);
      assert.deepEqual(results.slice(0, 2), [{ ok: true, created: true }, { ok: true }]);
      assert.ok(results[2].ok);
      assert.deepEqual(results.slice(3), [
        { ok: true, consumed: true, payload: 1 },
        { ok: true },
        { ok: false, code: "STALE_FENCE" },
        { ok: false, code: "RUN_FINISHED", status: "terminated" },
      ]);
      assert.deepEqual(
        (await store().loadJournal("r1")).map((e) => e.seq),
        [0, 1],
      );
    });

    it("an empty batch is a no-op", async () => {
      assert.deepEqual(await store().write([]), []);
    });
  });

  describe("migrate", () => {
    it("running it again is harmless and keeps the data", async () => {
      await create("r1", {}, "node-a");
      await put("r1", 1, entry(0));
      await store().migrate();
      await store().migrate();
      expectRun(await getRun("r1"), { owner: "node-a", fence: 1 });
      assert.equal((await store().loadJournal("r1")).length, 1);
      await create("r2");
      assert.ok(await store().getRun("r2"));
    });
  });
}
