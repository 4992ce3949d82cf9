// Multi-node end to end on PostgreSQL: three real node processes (Dirigent servers started from
// DIRIGENT_DATABASE_URL, fixtures/cluster-node.ts) share one schema and run 1,000 runs of a 4-step
// workflow plus a cron schedule firing every second. Mid-way one node is killed with SIGKILL. Every step
// attempt writes begin/end lines to an external ledger; from the ledger and the database the test
// checks that every run completed with the right output, no step was executed by two nodes at the same
// time, no completed step ran again, a step ran twice only if it was in flight on the dead node, the
// dead node's runs were taken over only after their leases ran out, and each due time of the schedule
// started exactly one run. It prints the takeover time: from the kill to the first step a live node
// began on a run the dead node owned.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createEngine } from "../../src/runtime/engine.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { dropSchema, PG_URL, uniqueSchema, whenPostgres, withAdmin } from "../contract/postgres.js";
import {
  backendsOf,
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
  TICK_WORKFLOW,
} from "./fixtures/cluster-plan.js";

const RUNS = 1_000;
const LEASE_MS = 2_000;
/** Runs each node executes at once: small, so the work lasts a few seconds and the kill lands mid-way. */
const NODE_CONCURRENCY = 8;
const NODE_IDS = ["node-a", "node-b", "node-c"];
const VICTIM = "node-b";
const SCHEDULE_ID = "cluster-tick";

await whenPostgres("cluster of three nodes on PostgreSQL", () => {
  describe("three nodes on one PostgreSQL, one killed with SIGKILL", () => {
    it("completes every run; no step on two nodes at once; the dead node's runs taken over after their leases", {
      timeout: 240_000,
    }, async () => {
      const schema = uniqueSchema("dg_cluster");
      const dir = mkdtempSync(join(tmpdir(), "dirigent-cluster-"));
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
      // The test's own engine only starts, reads and schedules (execute: false): it runs no step.
      const client = createEngine({ store, workflows: clusterWorkflows(), execute: false });
      const nodes: ClusterNode[] = [];
      const startedAt = Date.now();
      try {
        await client.start(); // migrates the new schema before the nodes open it
        for (const nodeId of NODE_IDS) {
          nodes.push(
            new ClusterNode({
              ledgerDir: dir,
              nodeId,
              databaseUrl: nodeDatabaseUrl(PG_URL, schema, nodeId),
              leaseMs: LEASE_MS,
              maxConcurrentRuns: NODE_CONCURRENCY,
            }),
          );
        }
        const urls = await Promise.all(nodes.map((n) => n.listening()));
        await client.schedules.create({
          scheduleId: SCHEDULE_ID,
          cron: "* * * * * *",
          workflow: TICK_WORKFLOW,
          overlap: "allow_all",
        });
        await startRunsOverHttp(urls, RUNS);

        const completedRuns = async () => (await store.countRuns({ workflow: CLUSTER_WORKFLOW })).completed;
        await waitFor(
          "a third of the runs to complete",
          async () => (await completedRuns()) >= RUNS / 3,
          60_000,
          20,
        );
        assert.ok(
          (await completedRuns()) < RUNS * 0.8,
          "the workload ended too early to kill a node mid-way",
        );

        // ---- kill one node ------------------------------------------------------------------------
        const victim = nodes[NODE_IDS.indexOf(VICTIM)];
        const killedAt = monoNow();
        victim.kill();
        const exit = await victim.exited;
        const deadAt = monoNow();
        assert.equal(exit.signal, "SIGKILL");
        // What it owned: no live node can claim these before their leases run out (seconds from now).
        const owned = await withAdmin(async (admin) => {
          const { rows } = await admin.query<{ run_id: string; lease_expires_at: string }>(
            `SELECT run_id, lease_expires_at FROM ${schema}.runs WHERE owner = $1`,
            [VICTIM],
          );
          return new Map(rows.map((r) => [r.run_id, Number(r.lease_expires_at)]));
        });
        // A batch the dead process sent just before dying may still commit: snapshot the completed
        // steps only once the server has dropped all of its connections.
        await waitFor(
          `${VICTIM}'s connections to close`,
          async () => (await backendsOf(VICTIM)) === 0,
          10_000,
        );
        const completedAtKill = new Set((await completedSteps(schema)).keys());
        const snapshotAt = monoNow(); // every completion in the snapshot committed before this instant

        // ---- the rest finishes on the two live nodes ----------------------------------------------
        await waitFor("every run to complete", async () => (await completedRuns()) === RUNS, 120_000, 100);
        await client.schedules.pause(SCHEDULE_ID);
        const tickRuns = async () => (await store.listRuns({ workflow: TICK_WORKFLOW, limit: 1000 })).runs;
        await waitFor(
          "every scheduled run to finish",
          async () => (await tickRuns()).every((r) => r.status === "completed"),
          30_000,
        );
        for (const node of nodes) {
          if (node === victim) continue;
          const stopped = await node.stop();
          assert.equal(
            stopped.code,
            0,
            `${node.nodeId} exited ${JSON.stringify(stopped)}:\n${node.stderrTail}`,
          );
          assert.deepEqual(node.engineErrors, [], `engine errors on ${node.nodeId}`);
        }

        // ---- (1) every run completed with the right output and four completed steps -----------------
        const counts = await store.countRuns({ workflow: CLUSTER_WORKFLOW });
        assert.equal(counts.completed, RUNS, `run counts: ${JSON.stringify(counts)}`);
        for (let i = 0; i < RUNS; i++) {
          const run = await store.getRun(clusterRunId(i));
          assert.equal(run?.status, "completed", `${clusterRunId(i)} is ${run?.status}`);
          assert.deepEqual(run.output, clusterOutput(i), `output of ${run.runId}`);
          assert.equal(run.owner, undefined);
        }
        const completed = await completedSteps(schema);

        // ---- (2) the ledger: no overlap, nothing completed ran again ---------------------------------
        const byKey = readLedgers(dir);
        const summary = checkLedger(byKey, completed, new Map([[victim.pid, deadAt]]));
        const ticks = await tickRuns();
        assert.equal(summary.keys, RUNS * CLUSTER_STEPS + ticks.length, "one ledger key per step");
        // A step ran more than once only when the dead node had begun it and its completion had not
        // committed (checkLedger: the last execution is the one whose completion the journal holds): every
        // execution but the last of a key is the victim's.
        let inflightAtKill = 0;
        for (const list of byKey.values()) {
          const key = list[0].key;
          if (list.some((e) => e.pid === victim.pid) && !completedAtKill.has(key)) inflightAtKill++;
          for (const exec of list.slice(0, -1)) {
            assert.equal(exec.pid, victim.pid, `${key} ran on ${exec.node} and again after it`);
          }
          // What the database held as completed after the kill never began again.
          if (completedAtKill.has(key)) {
            const late = list.find((e) => e.begin > snapshotAt);
            assert.equal(late, undefined, `${key}, completed at the kill, began again on ${late?.node}`);
          }
        }
        assert.ok(summary.reExecutedKeys.length <= inflightAtKill);

        // ---- (3) takeover: after the leases ran out, by live nodes only -----------------------------
        assert.ok(owned.size > 0, `${VICTIM} owned no run when it was killed`);
        const takeovers: number[] = [];
        for (const [runId, leaseExpiresAt] of owned) {
          const later = [...byKey.values()]
            .flat()
            .filter((e) => e.key.startsWith(`${runId}:`) && e.begin > killedAt);
          for (const e of later) {
            assert.notEqual(e.pid, victim.pid);
            assert.ok(
              e.beginWall > leaseExpiresAt,
              `${e.node} began ${e.key} at ${e.beginWall}, before ${VICTIM}'s lease ran out at ${leaseExpiresAt}`,
            );
          }
          if (later.length) takeovers.push(Math.min(...later.map((e) => e.begin)) - killedAt);
        }
        assert.ok(takeovers.length > 0, "no run of the dead node was taken over");
        const firstTakeoverMs = Math.min(...takeovers);
        const lastTakeoverMs = Math.max(...takeovers);
        // Liveness, with a wide margin for a loaded machine: the leases were at most LEASE_MS long.
        assert.ok(lastTakeoverMs < LEASE_MS * 5, `takeover took ${lastTakeoverMs} ms`);

        // ---- (4) the schedule: one run per due time, no due time missed ------------------------------
        const fireTimes = ticks
          .map((r) => Date.parse(r.runId.slice(`${SCHEDULE_ID}@`.length)))
          .sort((a, b) => a - b);
        assert.ok(fireTimes.length >= 3, `only ${fireTimes.length} scheduled runs`);
        for (let k = 1; k < fireTimes.length; k++) {
          assert.equal(
            fireTimes[k] - fireTimes[k - 1],
            1_000,
            `fires ${fireTimes[k - 1]} and ${fireTimes[k]}`,
          );
        }
        for (const run of ticks) {
          assert.equal(run.workflow, TICK_WORKFLOW);
          assert.equal(run.output, run.runId);
        }

        const perNode = NODE_IDS.map(
          (id) => `${id}=${[...byKey.values()].flat().filter((e) => e.node === id).length}`,
        ).join(" ");
        console.log(
          `cluster test: runs=${RUNS} steps=${RUNS * CLUSTER_STEPS} nodes=${NODE_IDS.length} killed=${VICTIM} ` +
            `lease_ms=${LEASE_MS} takeover_ms=${firstTakeoverMs.toFixed(1)} all_taken_over_ms=${lastTakeoverMs.toFixed(1)} ` +
            `owned_at_kill=${owned.size} exit_seen_after_ms=${(deadAt - killedAt).toFixed(1)} ` +
            `inflight_at_kill=${inflightAtKill} re_executed=${summary.reExecutedKeys.length} ` +
            `executions=${summary.executions} (${perNode}) schedule_fires=${fireTimes.length} ` +
            `elapsed_ms=${Date.now() - startedAt}`,
        );
      } finally {
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
