// The store contract on PostgreSQL (a schema per test), and what only the PostgreSQL store does:
// LISTEN/NOTIFY wake-ups, concurrent claimers on separate pools, concurrent migrations, retried batches.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { afterEach, describe, it } from "node:test";
import pg from "pg";
import { isDirigentError } from "../src/core/errors.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { commitStatus, type FaultHook, type FaultPoint } from "../src/store/postgres/postgres-tx.js";
import type { NewRun, WriteOp } from "../src/store/store.js";
import { dropSchema, PG_URL, uniqueSchema, until, whenPostgres, withAdmin } from "./contract/postgres.js";
import { storeContract, T0 } from "./contract/store-contract.js";

const LEASE = 30_000;
const newRun = (runId: string, over: Partial<NewRun> = {}): NewRun => ({
  runId,
  workflow: "wf",
  version: "1",
  inputJson: null,
  now: T0,
  ...over,
});
const claim = { nodeId: "node-a", leaseMs: LEASE };

await whenPostgres("PostgreSQL store", () => {
  storeContract("PostgreSQL", async () => {
    const schema = uniqueSchema();
    const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
    return {
      store,
      async cleanup() {
        await store.close();
        await dropSchema(schema);
      },
    };
  });

  describe("PostgresStore", () => {
    const schemas: string[] = [];
    const stores: PostgresStore[] = [];
    /** A store on `schema` (a new one if not given), closed and dropped after the test. */
    const open = (schema = uniqueSchema(), extra: { faultPoint?: FaultHook; poolSize?: number } = {}) => {
      if (!schemas.includes(schema)) schemas.push(schema);
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4, ...extra });
      stores.push(store);
      return store;
    };

    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
      for (const s of schemas.splice(0)) await dropSchema(s);
    });

    it("refuses bad options with INVALID_OPTIONS", () => {
      for (const options of [
        { connectionString: PG_URL, schema: "Bad-Name" },
        { connectionString: PG_URL, schema: "x; DROP TABLE runs" },
        { connectionString: PG_URL, poolSize: 0 },
        { connectionString: PG_URL, connectTimeoutMs: 0 },
        { connectionString: "" },
        { connectionString: PG_URL, pool: 3 },
      ]) {
        assert.throws(
          () => new PostgresStore(options as any),
          (e: unknown) => isDirigentError(e) && e.code === "INVALID_OPTIONS",
          JSON.stringify(options),
        );
      }
    });

    it("gives up opening a connection after connectTimeoutMs when the server accepts but never answers", async () => {
      // A TCP server that accepts connections and says nothing: a hung server or a half-open path.
      const sockets: import("node:net").Socket[] = [];
      const silent = createServer((socket) => {
        sockets.push(socket);
      });
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as import("node:net").AddressInfo).port;
      const store = new PostgresStore({
        connectionString: `postgres://postgres@127.0.0.1:${port}/test`,
        schema: uniqueSchema(),
        connectTimeoutMs: 300,
      });
      const started = Date.now();
      try {
        await assert.rejects(store.migrate(), /timeout/i);
        const took = Date.now() - started;
        assert.ok(took < 5_000, `failed after ${took} ms, expected about 300`);
      } finally {
        await store.close().catch(() => {});
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it("migrates from three instances at once, applying each migration once", async () => {
      const schema = uniqueSchema();
      const [a, b, c] = [open(schema), open(schema), open(schema)];
      await Promise.all([a.migrate(), b.migrate(), c.migrate()]);
      const rows = await withAdmin(async (admin) => {
        const { rows } = await admin.query(`SELECT name FROM ${schema}.kysely_migration ORDER BY name`);
        return rows.map((r) => r.name);
      });
      assert.deepEqual(rows, [
        "001_init",
        "002_tasks_schedules",
        "003_definitions",
        "004_task_lease_speed",
        "005_retry_keeps_history",
        "006_paused_schedules",
      ]);
      assert.deepEqual(await b.write([{ type: "createRun", run: newRun("r1") }]), [
        { ok: true, created: true },
      ]);
      assert.equal((await c.getRun("r1"))?.runId, "r1");
    });

    it("keeps schemas of one database apart", async () => {
      const one = open();
      const two = open();
      await one.migrate();
      await two.migrate(); // the second schema gets its own tables and migration bookkeeping
      await one.write([{ type: "createRun", run: newRun("only-in-one") }]);
      assert.equal(await two.getRun("only-in-one"), undefined);
      assert.equal((await one.getRun("only-in-one"))?.runId, "only-in-one");
    });

    it("stores JSON text byte for byte", async () => {
      const store = open();
      await store.migrate();
      const text = '{ "b" : 1,\n  "a" : [1.50, "\\u00e9"] }';
      await store.write([{ type: "createRun", run: newRun("r1", { inputJson: text }) }]);
      const stored = await withAdmin(async (admin) => {
        const { rows } = await admin.query(`SELECT input_json FROM ${schemas[0]}.runs WHERE run_id = 'r1'`);
        return rows[0].input_json;
      });
      assert.equal(stored, text);
    });

    it("two stores claiming in parallel never claim one run twice", async () => {
      const schema = uniqueSchema();
      const a = open(schema, { poolSize: 4 });
      const b = open(schema, { poolSize: 4 });
      await a.migrate();
      await a.write(
        Array.from({ length: 200 }, (_, i) => ({ type: "createRun", run: newRun(`r${i}`) }) as WriteOp),
      );
      const claimedBy = new Map<string, string[]>();
      const loop = async (store: PostgresStore, nodeId: string) => {
        for (;;) {
          const rows = await store.claimRuns({ nodeId, limit: 5, leaseMs: LEASE, now: T0 + 1 });
          if (rows.length === 0) return;
          for (const r of rows) claimedBy.set(r.runId, [...(claimedBy.get(r.runId) ?? []), nodeId]);
        }
      };
      await Promise.all([
        loop(a, "a1"),
        loop(a, "a2"),
        loop(a, "a3"),
        loop(b, "b1"),
        loop(b, "b2"),
        loop(b, "b3"),
      ]);
      assert.equal(claimedBy.size, 200);
      const twice = [...claimedBy].filter(([, nodes]) => nodes.length !== 1);
      assert.deepEqual(twice, []);
      const nodes = new Set([...claimedBy.values()].flat());
      assert.ok(nodes.size >= 2, `claims spread over ${[...nodes].join(", ")}`);
      // The database agrees with what each claimer was told.
      const page = await b.listRuns({ limit: 1000 });
      for (const run of page.runs) {
        assert.equal(run.fence, 1);
        assert.equal(run.owner, claimedBy.get(run.runId)?.[0]);
      }
    });

    it("fence checks hold while another node terminates the run concurrently", async () => {
      const schema = uniqueSchema();
      const owner = open(schema);
      const other = open(schema);
      await owner.migrate();
      await owner.write([{ type: "createRun", run: newRun("r1"), claim }]);
      const results: { seq: number; ok: boolean }[] = [];
      const writes = (async () => {
        for (let seq = 0; seq < 60; seq++) {
          const [r] = await owner.write([
            {
              type: "putEntry",
              runId: "r1",
              fence: 1,
              entry: {
                seq,
                kind: "step",
                name: `s${seq}`,
                status: "completed",
                attempt: 1,
                resultJson: "1",
                errorJson: null,
                detailJson: null,
                startedAt: T0,
                updatedAt: T0,
              },
            },
          ]);
          results.push({ seq, ok: r.ok });
        }
      })();
      await until(() => results.length >= 10, "some writes");
      const [t] = await other.write([{ type: "terminateRun", runId: "r1", reason: "stop", now: T0 }]);
      assert.deepEqual(t, { ok: true });
      await writes;
      const firstRefused = results.findIndex((r) => !r.ok);
      assert.ok(
        firstRefused > 0 && firstRefused < 60,
        `refusals start after the terminate (${firstRefused})`,
      );
      assert.ok(
        results.slice(firstRefused).every((r) => !r.ok),
        "no write succeeds after a refusal",
      );
      const journal = (await other.loadJournal("r1")).map((e) => e.seq);
      assert.deepEqual(
        journal,
        results.filter((r) => r.ok).map((r) => r.seq),
      );
    });

    describe("wake-ups", () => {
      it("a subscriber hears a signal delivered through another store instance", async () => {
        const schema = uniqueSchema();
        const listener = open(schema);
        const sender = open(schema);
        await listener.migrate();
        await sender.write([{ type: "createRun", run: newRun("r1"), claim }]);
        let wakes = 0;
        const unsubscribe = await listener.subscribeWakeups(() => wakes++);
        await sender.write([{ type: "deliverSignal", runId: "r1", name: "go", payloadJson: null, now: T0 }]);
        await until(() => wakes >= 1, "a wake-up");
        await unsubscribe();
        // The last subscriber gone, the LISTEN connection is closed.
        await until(
          async () =>
            withAdmin(
              async (admin) =>
                (
                  await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [
                    `dirigent-listener:${schema}`,
                  ])
                ).rowCount === 0,
            ),
          "the listener connection to close",
        );
        const before = wakes;
        await sender.write([{ type: "deliverSignal", runId: "r1", name: "go", payloadJson: null, now: T0 }]);
        assert.equal(wakes, before, "no wake-ups after unsubscribing");
      });

      it("reconnects after losing its connection, and wakes once on reconnect", async () => {
        const schema = uniqueSchema();
        const listener = open(schema);
        const sender = open(schema);
        await listener.migrate();
        await sender.write([{ type: "createRun", run: newRun("r1"), claim }]);
        let wakes = 0;
        await listener.subscribeWakeups(() => wakes++);
        const killed = await withAdmin(async (admin) => {
          const { rows } = await admin.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            [`dirigent-listener:${schema}`],
          );
          return rows.length;
        });
        assert.equal(killed, 1);
        await until(() => wakes >= 1, "the wake-up after reconnecting");
        const before = wakes;
        await sender.write([{ type: "deliverSignal", runId: "r1", name: "go", payloadJson: null, now: T0 }]);
        await until(() => wakes > before, "a wake-up over the new connection");
      });

      it("is sent by exactly the operations that make a run due, once per batch", async () => {
        const schema = uniqueSchema();
        const store = open(schema);
        await store.migrate();
        const raw = new pg.Client({ connectionString: PG_URL });
        await raw.connect();
        const heard: string[] = [];
        raw.on("notification", (m) => heard.push(m.payload ?? ""));
        await raw.query("LISTEN dirigent_wakeup");
        const notifies = async (ops: WriteOp[]): Promise<number> => {
          heard.length = 0;
          await store.write(ops);
          // Notifications arrive in commit order: once this marker is heard, the batch's would have been.
          const marker = `marker-${Math.random()}`;
          await withAdmin((admin) => admin.query("SELECT pg_notify('dirigent_wakeup', $1)", [marker]));
          await until(() => heard.includes(marker), "the marker");
          return heard.filter((p) => p === schema).length;
        };
        const entry = {
          seq: 0,
          kind: "step" as const,
          name: "s",
          status: "completed" as const,
          attempt: 1,
          resultJson: null,
          errorJson: null,
          detailJson: null,
          startedAt: T0,
          updatedAt: T0,
        };
        try {
          assert.equal(await notifies([{ type: "createRun", run: newRun("pending") }]), 1, "createRun");
          assert.equal(
            await notifies([{ type: "createRun", run: newRun("owned"), claim }]),
            0,
            "createRun+claim",
          );
          assert.equal(
            await notifies([{ type: "putEntry", runId: "owned", fence: 1, entry }]),
            0,
            "putEntry",
          );
          assert.equal(
            await notifies([
              { type: "deliverSignal", runId: "ghost", name: "x", payloadJson: null, now: T0 },
            ]),
            0,
            "a refused signal",
          );
          assert.equal(
            await notifies([{ type: "suspendRun", runId: "owned", fence: 1, wakeAt: T0 + 1_000, now: T0 }]),
            0,
            "suspend until later",
          );
          assert.equal(
            await notifies([
              { type: "deliverSignal", runId: "owned", name: "x", payloadJson: null, now: T0 },
            ]),
            1,
            "deliverSignal",
          );
          assert.equal(
            await notifies([{ type: "requestCancel", runId: "owned", now: T0 }]),
            1,
            "requestCancel",
          );
          // Set-up batches go through notifies() too, so their notifications are not heard later.
          await notifies([
            { type: "createRun", run: newRun("p"), claim },
            { type: "createRun", run: newRun("c1", { parentRunId: "p", parentSeq: 0 }), claim },
            { type: "createRun", run: newRun("c2", { parentRunId: "p", parentSeq: 1 }) },
            { type: "createRun", run: newRun("root"), claim },
            { type: "createRun", run: newRun("root2") },
            { type: "createRun", run: newRun("s1"), claim },
            { type: "createRun", run: newRun("s2"), claim },
            { type: "createRun", run: newRun("rel"), claim },
          ]);
          const done = (runId: string): WriteOp => ({
            type: "completeRun",
            runId,
            fence: 1,
            status: "completed",
            outputJson: null,
            now: T0,
          });
          assert.equal(await notifies([done("root")]), 0, "completeRun of a root run");
          assert.equal(await notifies([done("c1")]), 1, "completeRun of a child");
          assert.equal(
            await notifies([{ type: "terminateRun", runId: "root2", reason: "x", now: T0 }]),
            0,
            "terminate",
          );
          assert.equal(
            await notifies([{ type: "terminateRun", runId: "c2", reason: "x", now: T0 }]),
            1,
            "terminate a child",
          );
          assert.equal(
            await notifies([{ type: "releaseRun", runId: "rel", fence: 1, now: T0 }]),
            1,
            "releaseRun",
          );
          assert.equal(
            await notifies([{ type: "suspendRun", runId: "s1", fence: 1, wakeAt: T0, now: T0 }]),
            1,
            "suspend with a wake-up already due",
          );
          await notifies([{ type: "deliverSignal", runId: "s2", name: "x", payloadJson: null, now: T0 }]);
          assert.equal(
            await notifies([{ type: "suspendRun", runId: "s2", fence: 1, wakeAt: T0 + 5_000, now: T0 + 1 }]),
            1,
            "suspend after an event arrived",
          );
          const child = (runId: string, c?: typeof claim): WriteOp => ({
            type: "startChild",
            runId: "p",
            fence: 1,
            entry: { ...entry, kind: "child", seq: 5 },
            child: newRun(runId, { parentRunId: "p", parentSeq: 5 }),
            claim: c,
          });
          assert.equal(await notifies([child("k1", claim)]), 0, "startChild with claim");
          assert.equal(await notifies([child("k2")]), 1, "startChild");
          assert.equal(
            await notifies([
              { type: "createRun", run: newRun("m1") },
              { type: "createRun", run: newRun("m2") },
              { type: "deliverSignal", runId: "p", name: "x", payloadJson: null, now: T0 },
            ]),
            1,
            "one notification per batch",
          );
        } finally {
          await raw.end();
        }
      });
    });

    describe("retries", () => {
      /** A store whose fault hook runs `action` once, at `point`. */
      const faulty = (schema: string) => {
        const calls: FaultPoint[] = [];
        let armed: { point: FaultPoint; action: (pid: number) => Promise<void> } | undefined;
        const store = open(schema, {
          faultPoint: async (point, { pid }) => {
            calls.push(point);
            if (armed?.point !== point) return;
            const { action } = armed;
            armed = undefined;
            await action(pid);
          },
        });
        return {
          store,
          calls,
          arm: (point: FaultPoint, action: (pid: number) => Promise<void>) => {
            armed = { point, action };
            calls.length = 0;
          },
        };
      };
      const kill = (pid: number) =>
        withAdmin(async (admin) => {
          await admin.query("SELECT pg_terminate_backend($1)", [pid]);
          await until(
            async () =>
              (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount === 0,
            "the backend to exit",
          );
        });

      it("a connection lost before COMMIT: the batch runs again and is applied once", async () => {
        const { store, calls, arm } = faulty(uniqueSchema());
        await store.migrate();
        await store.write([{ type: "createRun", run: newRun("r1"), claim }]);
        arm("batch:before-commit", kill);
        const results = await store.write([
          { type: "deliverSignal", runId: "r1", name: "go", payloadJson: "1", now: T0 },
          { type: "createRun", run: newRun("r2") },
        ]);
        assert.ok(results[0].ok && typeof results[0].signalId === "number");
        assert.deepEqual(
          results[1],
          { ok: true, created: true },
          "the retried batch created r2, not found it",
        );
        assert.deepEqual(calls, ["batch:before-commit", "batch:before-commit", "batch:after-commit"]);
        assert.equal((await store.listSignals("r1")).length, 1);
      });

      it("a COMMIT whose reply was lost: resolved as committed, not applied twice", async () => {
        const { store, calls, arm } = faulty(uniqueSchema());
        await store.migrate();
        await store.write([{ type: "createRun", run: newRun("r1"), claim }]);
        arm("batch:after-commit", async (pid) => {
          await kill(pid);
          throw Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
        });
        const results = await store.write([
          { type: "deliverSignal", runId: "r1", name: "go", payloadJson: "1", now: T0 },
          { type: "createRun", run: newRun("r2") },
        ]);
        assert.ok(results[0].ok);
        assert.deepEqual(results[1], { ok: true, created: true });
        assert.deepEqual(calls, ["batch:before-commit", "batch:after-commit"]);
        assert.equal((await store.listSignals("r1")).length, 1);
      });

      it("a claim whose COMMIT reply was lost still hands over the runs it claimed", async () => {
        const { store, arm } = faulty(uniqueSchema());
        await store.migrate();
        await store.write([{ type: "createRun", run: newRun("r1") }]);
        arm("batch:after-commit", async (pid) => {
          await kill(pid);
          throw Object.assign(new Error("Connection terminated unexpectedly"), {});
        });
        const claimed = await store.claimRuns({ nodeId: "node-a", limit: 10, leaseMs: LEASE, now: T0 });
        assert.deepEqual(
          claimed.map((r) => [r.runId, r.fence]),
          [["r1", 1]],
        );
      });

      it("resolves a lost COMMIT: committed, aborted, or still open (whose backend is then ended)", async () => {
        const store = open();
        await store.migrate();
        const session = async () => {
          const c = new pg.Client({ connectionString: PG_URL });
          c.on("error", () => {});
          await c.connect();
          await c.query("BEGIN");
          const { rows } = await c.query("SELECT txid_current()::text AS xid, pg_backend_pid() AS pid");
          return { c, xid: rows[0].xid as string, pid: rows[0].pid as number };
        };
        const committed = await session();
        await committed.c.query("COMMIT");
        assert.equal(await commitStatus(store.pool, committed.xid, committed.pid), "committed");
        await committed.c.end();
        const rolledBack = await session();
        await rolledBack.c.query("ROLLBACK");
        assert.equal(await commitStatus(store.pool, rolledBack.xid, rolledBack.pid), "aborted");
        await rolledBack.c.end();
        // Idle in transaction: its COMMIT never arrived. The resolver ends that backend, which aborts it.
        const idle = await session();
        assert.equal(await commitStatus(store.pool, idle.xid, idle.pid), "aborted");
        await assert.rejects(idle.c.query("SELECT 1"));
        await idle.c.end().catch(() => {});
      });

      it("a backend killed in the middle of a batch: the batch is retried and applied once", async () => {
        const schema = uniqueSchema();
        const store = open(schema);
        await store.migrate();
        await store.write([{ type: "createRun", run: newRun("r1"), claim }]);
        const locker = new pg.Client({ connectionString: PG_URL });
        await locker.connect();
        try {
          await locker.query("BEGIN");
          await locker.query(`SELECT 1 FROM ${schema}.runs WHERE run_id = 'r1' FOR UPDATE`);
          const lockerPid = (await locker.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
          const writing = store.write([
            { type: "deliverSignal", runId: "r1", name: "go", payloadJson: "7", now: T0 },
          ]);
          let victim: number | undefined;
          await withAdmin(async (admin) => {
            await until(async () => {
              const { rows } = await admin.query(
                "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) AND query LIKE '%dirigent_apply%'",
                [lockerPid],
              );
              victim = rows[0]?.pid;
              return victim !== undefined;
            }, "the batch to wait for the lock");
            await admin.query("SELECT pg_terminate_backend($1)", [victim]);
          });
          await locker.query("COMMIT");
          const [r] = await writing;
          assert.ok(r.ok && typeof r.signalId === "number");
          assert.deepEqual(
            (await store.listSignals("r1")).map((s) => s.payload),
            [7],
          );
        } finally {
          await locker.end();
        }
      });
    });
  });
});
