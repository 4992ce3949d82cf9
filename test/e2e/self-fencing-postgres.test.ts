// Self-fencing on a real PostgreSQL server.
//
// A node cut off from PostgreSQL by a network partition: a TCP proxy between node A and the server stops
// forwarding (bytes are held back, nothing is reset, so A's queries just hang, as when packets vanish).
// A cannot renew; it must abort its run's step by itself before the lease runs out, and only then may
// node B (connected directly) take the run over: the two executions of the step never overlap, and A
// writes nothing for it. When the partition heals, the held bytes flow again (late answers to A's hung
// queries change nothing) and A renews and executes runs again.
//
// A node whose run was taken over (its lease had run out while it stalled) learns it at its next
// renewal, which the store refuses for that run: it aborts the step at once, without waiting for a write.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { createEngine, type Engine } from "../../src/runtime/engine.js";
import type { EngineEventMap } from "../../src/runtime/events.js";
import { workflow } from "../../src/runtime/workflow.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { dropSchema, PG_URL, uniqueSchema, whenPostgres, withAdmin } from "../contract/postgres.js";

const LEASE_MS = 2_000;
/** When a node gives up a lease it could not renew (80% of the lease). */
const FENCE_AFTER_MS = 1_600;

/** A TCP proxy to the PostgreSQL server that can hold back every byte in both directions, and let go. */
class PartitionProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly held: (() => void)[] = [];
  private cut = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.port, this.host);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(from);
        from.on("data", (chunk) => {
          if (this.cut) this.held.push(() => to.write(chunk));
          else to.write(chunk);
        });
        from.on("close", () => {
          this.sockets.delete(from);
          to.destroy();
        });
        from.on("error", () => {});
      }
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return (this.server.address() as net.AddressInfo).port;
  }

  partition(): void {
    this.cut = true;
  }

  heal(): void {
    for (const send of this.held.splice(0)) send();
    this.cut = false;
  }

  async close(): Promise<void> {
    this.heal();
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

await whenPostgres("self-fencing on PostgreSQL", () => {
  describe("self-fencing on PostgreSQL", () => {
    it("the cut-off node aborts its step before another node takes the run over, and recovers after", async () => {
      const schema = uniqueSchema("dg_partition");
      const target = new URL(PG_URL);
      const proxy = new PartitionProxy(target.hostname, Number(target.port || 5432));
      const viaProxy = new URL(PG_URL);
      viaProxy.host = `127.0.0.1:${await proxy.listen()}`;
      const storeA = new PostgresStore({ connectionString: viaProxy.toString(), schema, poolSize: 4 });
      const storeB = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
      const engines: Engine[] = [];

      /** What each execution of a step did, timed by this process's monotonic clock. */
      const log: { run: string; node: string; began: number; aborted?: number; reason?: any }[] = [];
      const release = new Map<string, () => void>();
      // Node A's step holds until released (or aborted); node B's returns at once.
      const make = (node: string) =>
        workflow("partitioned", async (ctx) =>
          ctx.step("work", ({ runId, signal }) => {
            const entry = { run: runId, node, began: performance.now() } as (typeof log)[number];
            log.push(entry);
            return new Promise<string>((resolve, reject) => {
              if (node !== "a") resolve(`by ${node}`);
              release.set(runId, () => resolve(`by ${node}`));
              signal.addEventListener("abort", () => {
                entry.aborted = performance.now();
                entry.reason = signal.reason;
                reject(signal.reason);
              });
            });
          }),
        );
      const node = (store: PostgresStore, nodeId: string) => {
        const engine = createEngine({
          store,
          nodeId,
          workflows: [make(nodeId)],
          leaseMs: LEASE_MS,
          pollIntervalMs: 100,
        });
        engines.push(engine);
        return engine;
      };
      const a = node(storeA, "a");
      const b = node(storeB, "b");
      const lostOnA: EngineEventMap["run:lease-lost"][] = [];
      a.events.on("run:lease-lost", (e) => lostOnA.push(e));
      try {
        await a.start();
        const first = await a.startRun("partitioned", null, { runId: "cut-off" });
        await until(() => log.length === 1, "A's step to begin");
        await b.start(); // B sees the run owned by A and leaves it

        await new Promise((r) => setTimeout(r, LEASE_MS / 2)); // renewals work: nothing happens
        assert.equal(log.length, 1);
        assert.equal(lostOnA.length, 0);

        const cutAt = performance.now();
        proxy.partition();
        const done = await b.waitForFinish(first.runId, 15_000);
        assert.equal(done.status, "completed");
        assert.equal(done.output, "by b");
        assert.equal(done.owner, undefined);

        const [onA, onB] = log;
        assert.equal(onA.node, "a");
        assert.equal(onB?.node, "b");
        assert.ok(onA.aborted !== undefined, "A's step saw its signal abort while A was cut off");
        assert.equal(onA.reason.code, "STALE_FENCE");
        assert.ok(
          onA.aborted - cutAt < FENCE_AFTER_MS + 200,
          `A aborted ${Math.round(onA.aborted - cutAt)} ms after the cut, within 80% of the lease (+ slack)`,
        );
        assert.ok(
          onB.began > onA.aborted,
          `B began ${Math.round(onB.began - onA.aborted)} ms after A's attempt was aborted: no overlap`,
        );
        assert.equal(lostOnA.length, 1);
        assert.equal(lostOnA[0].reason, "renewal-overdue");
        assert.equal(a.stats().active, 0);

        // The partition heals: A's held-back queries are answered late, and change nothing.
        proxy.heal();
        const journal = await storeB.loadJournal(first.runId);
        assert.deepEqual(
          journal.map((e) => [e.name, e.status, e.result]),
          [["work", "completed", "by b"]],
        );
        assert.deepEqual(await storeB.listAttempts(first.runId), [], "A recorded no attempt");

        // A executes again, and its renewals keep a run alive past the lease.
        const second = await a.startRun("partitioned", null, { runId: "after-heal" });
        await until(() => log.length === 3, "A's step of the second run to begin", 15_000);
        assert.equal(log[2].node, "a");
        await new Promise((r) => setTimeout(r, LEASE_MS * 1.5));
        assert.equal(log[2].aborted, undefined, "not fenced: renewals work again");
        assert.equal(lostOnA.length, 1);
        release.get(second.runId)!();
        const after = await a.waitForFinish(second.runId, 10_000);
        assert.equal(after.output, "by a");
        assert.equal(after.fence, 1, "never taken over");
      } finally {
        proxy.heal(); // stopping A writes through the proxy (it releases the runs it still executes)
        for (const e of engines) await e.stop({ graceMs: 0 });
        await proxy.close();
        await storeA.close();
        await storeB.close();
        await dropSchema(schema);
      }
    });

    it("a node whose run was taken over aborts its step at its next renewal", async () => {
      const schema = uniqueSchema("dg_taken");
      const stores = [0, 1].map(() => new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 }));
      const aborted: { at: number; reason: any }[] = [];
      const began: string[] = [];
      const make = (node: string) =>
        workflow("taken", async (ctx) =>
          ctx.step("work", ({ signal }) => {
            began.push(node);
            if (node === "b") return "by b";
            return new Promise<string>((_, reject) =>
              signal.addEventListener("abort", () => {
                aborted.push({ at: performance.now(), reason: signal.reason });
                reject(signal.reason);
              }),
            );
          }),
        );
      const lease = 3_000;
      const [a, b] = ["a", "b"].map((nodeId, i) =>
        createEngine({
          store: stores[i],
          nodeId,
          workflows: [make(nodeId)],
          leaseMs: lease,
          pollIntervalMs: 100,
          // A claims expired runs too, its own included (it would adopt the new fence and keep its
          // hanging step); with one run at most, A claims nothing while its step runs, so B gets it.
          ...(nodeId === "a" ? { maxConcurrentRuns: 1 } : {}),
        }),
      );
      const lost: EngineEventMap["run:lease-lost"][] = [];
      a.events.on("run:lease-lost", (e) => lost.push(e));
      try {
        await a.start();
        const { runId } = await a.startRun("taken", null);
        await until(() => began.length === 1, "A's step to begin");
        const writesBefore = a.stats().writes;
        // B is up (claiming every 100 ms) before A's lease runs out (as if A had stalled): B takes the
        // run over and ends it. (Once, in a full CI run, B did not finish the run within 10 s; the
        // likeliest cause was A claiming its own expired run first, which maxConcurrentRuns now stops.)
        await b.start();
        await withAdmin((c) =>
          c.query(`UPDATE ${schema}.runs SET lease_expires_at = 0 WHERE run_id = $1`, [runId]),
        );
        const done = await b.waitForFinish(runId, 10_000);
        assert.equal(done.output, "by b");
        const finishedAt = performance.now();
        await until(() => aborted.length === 1, "A's step to see its signal abort", lease);
        assert.ok(
          aborted[0].at - finishedAt < lease / 3 + 200,
          "at A's next renewal, not at its lease's end",
        );
        assert.equal(aborted[0].reason.code, "STALE_FENCE");
        assert.deepEqual(
          lost.map((e) => [e.runId, e.fence, e.reason]),
          [[runId, 1, "not-renewed"]],
        );
        assert.equal(a.stats().active, 0);
        assert.equal(a.stats().writes, writesBefore, "A wrote nothing more");
        assert.deepEqual(await stores[1].listAttempts(runId), []);
        assert.deepEqual(
          (await stores[1].loadJournal(runId)).map((e) => e.result),
          ["by b"],
        );
      } finally {
        for (const e of [a, b]) await e.stop({ graceMs: 0 });
        for (const s of stores) await s.close();
        await dropSchema(schema);
      }
    });
  });
});
