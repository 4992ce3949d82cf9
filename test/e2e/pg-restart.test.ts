// PostgreSQL restarted under load: two real node processes (fixtures/cluster-node.ts) execute 600 runs
// of a 4-step workflow; mid-way the PostgreSQL server itself is restarted (`pg_ctlcluster … restart`,
// fast mode: every connection is cut, the server is unreachable for a moment). The nodes must
// reconnect and carry on: every run completes with the right output, none is left running, both nodes
// execute steps again afterwards and LISTEN again, no step runs twice at once, and no completed step
// runs again.
//
// This restarts the SHARED server of this machine: every other test connected to it at that moment
// loses its connections. scripts/run-tests.mjs therefore runs this file on its own, after all other
// test files (which run two at a time with --test-concurrency=2). Run by hand, expect other suites
// running at the same time against the same server to see connection errors. The outage is kept
// short (a fast-mode restart takes about a second), and the server is started again in `finally` if
// the restart left it down.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { createEngine } from "../../src/runtime/engine.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { dropSchema, PG_URL, uniqueSchema, whenPostgres, withAdmin } from "../contract/postgres.js";
import {
  ClusterNode,
  checkLedger,
  completedSteps,
  monoNow,
  nodeDatabaseUrl,
  readLedgers,
  startRunsOverHttp,
  waitFor,
} from "./fixtures/cluster-harness.js";
import {
  CLUSTER_STEPS,
  CLUSTER_WORKFLOW,
  clusterOutput,
  clusterRunId,
  clusterWorkflows,
} from "./fixtures/cluster-plan.js";

const run = promisify(execFile);
const RUNS = 600;
/**
 * Longer than the outage: leases must not lapse while the server is down, or a node could find a step
 * it is still executing claimed away and started again (by another node or by itself: an outage longer
 * than the lease makes a step run twice, possibly at once; docs/cluster.md). Runs whose writes failed
 * during the outage are dropped by their node and taken up again when this lease runs out.
 */
const LEASE_MS = 20_000;
const NODE_IDS = ["node-a", "node-b"];

/** The local cluster's version folder (`/etc/postgresql/15`), as pg_ctlcluster wants it. */
function clusterVersion(): string {
  const versions = readdirSync("/etc/postgresql");
  assert.ok(versions.length > 0, "no PostgreSQL cluster in /etc/postgresql");
  return versions.sort()[0];
}

async function pgctl(action: "restart" | "start"): Promise<void> {
  await run("pg_ctlcluster", ["--skip-systemctl-redirect", clusterVersion(), "main", action], {
    timeout: 60_000,
  });
}

async function isReady(): Promise<boolean> {
  try {
    await run("pg_isready", ["-h", "127.0.0.1", "-p", "5432", "-q"], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Leave the server up whatever happened: start it if the restart left it down. */
async function ensurePostgresUp(): Promise<void> {
  if (await isReady()) return;
  await pgctl("start").catch(() => {});
  await waitFor("PostgreSQL to accept connections", isReady, 60_000, 200);
}

await whenPostgres("PostgreSQL restarted under load", () => {
  describe("PostgreSQL restarted while two nodes execute runs", () => {
    it("the nodes reconnect and continue; every run completes, none stuck, no step doubled", {
      timeout: 240_000,
    }, async () => {
      const schema = uniqueSchema("dg_pgrestart");
      const dir = mkdtempSync(join(tmpdir(), "dirigent-pgrestart-"));
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 });
      const client = createEngine({ store, workflows: clusterWorkflows(), execute: false });
      const nodes: ClusterNode[] = [];
      const startedAt = Date.now();
      try {
        await client.start();
        for (const nodeId of NODE_IDS) {
          nodes.push(
            new ClusterNode({
              ledgerDir: dir,
              nodeId,
              databaseUrl: nodeDatabaseUrl(PG_URL, schema, nodeId),
              leaseMs: LEASE_MS,
              maxConcurrentRuns: 8,
            }),
          );
        }
        const urls = await Promise.all(nodes.map((n) => n.listening()));
        await startRunsOverHttp(urls, RUNS);
        const completedRuns = async () => (await store.countRuns({ workflow: CLUSTER_WORKFLOW })).completed;
        await waitFor(
          "a quarter of the runs to complete",
          async () => (await completedRuns()) >= RUNS / 4,
          60_000,
          20,
        );
        const before = await completedRuns();
        assert.ok(before < RUNS * 0.75, "the workload ended too early to restart mid-way");

        // ---- restart the server under load ----------------------------------------------------------
        const postmasterStart = () =>
          withAdmin(
            async (admin) => (await admin.query("SELECT pg_postmaster_start_time()::text AS t")).rows[0].t,
          );
        const serverStartedAt = await postmasterStart();
        const restartBegan = monoNow();
        await pgctl("restart");
        const restartEnded = monoNow();
        await waitFor("PostgreSQL to accept connections", isReady, 60_000, 100);
        assert.notEqual(await postmasterStart(), serverStartedAt, "the server did not restart");

        await waitFor("every run to complete", async () => (await completedRuns()) === RUNS, 120_000, 100);
        // The wake-up listeners reconnected (their backoff is at most 5 s).
        await waitFor(
          "each node to LISTEN again",
          () =>
            withAdmin(async (admin) => {
              const { rows } = await admin.query<{ application_name: string }>(
                "SELECT DISTINCT application_name FROM pg_stat_activity WHERE query = 'LISTEN dirigent_wakeup' AND application_name = ANY($1)",
                [NODE_IDS.map((id) => `dirigent-${id}`)],
              );
              return rows.length === NODE_IDS.length;
            }),
          20_000,
          100,
        );
        const errorsSeen = nodes.map((n) => n.engineErrors.length);
        for (const node of nodes) {
          const stopped = await node.stop();
          assert.equal(
            stopped.code,
            0,
            `${node.nodeId} exited ${JSON.stringify(stopped)}:\n${node.stderrTail}`,
          );
        }

        // ---- nothing lost, nothing stuck -------------------------------------------------------------
        const counts = await store.countRuns();
        assert.deepEqual(
          Object.entries(counts).filter(([status, n]) => status !== "completed" && n > 0),
          [],
          `runs not completed: ${JSON.stringify(counts)}`,
        );
        assert.equal(counts.completed, RUNS);
        for (let i = 0; i < RUNS; i++) {
          const r = await store.getRun(clusterRunId(i));
          assert.equal(r?.status, "completed", `${clusterRunId(i)} is ${r?.status}`);
          assert.deepEqual(r.output, clusterOutput(i), `output of ${r.runId}`);
        }
        const completed = await completedSteps(schema);
        assert.equal(completed.size, RUNS * CLUSTER_STEPS);

        // ---- the ledger: no overlap, nothing completed ran again; both nodes carried on ---------------
        const byKey = readLedgers(dir);
        const summary = checkLedger(byKey, completed, new Map());
        const all = [...byKey.values()].flat();
        for (const id of NODE_IDS) {
          assert.ok(
            all.some((e) => e.node === id && e.begin > restartEnded),
            `${id} executed no step after the restart`,
          );
        }
        console.log(
          `pg restart test: runs=${RUNS} nodes=${NODE_IDS.length} completed_before_restart=${before} ` +
            `restart_ms=${(restartEnded - restartBegan).toFixed(0)} re_executed=${summary.reExecutedKeys.length} ` +
            `executions=${summary.executions} engine_errors=[${errorsSeen.join(",")}] elapsed_ms=${Date.now() - startedAt}`,
        );
      } finally {
        await ensurePostgresUp();
        for (const node of nodes) node.kill();
        await Promise.all(nodes.map((n) => n.exited));
        await client.stop({ graceMs: 0 }).catch(() => {});
        await store.close().catch(() => {});
        await dropSchema(schema).catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
