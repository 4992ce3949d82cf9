// The whole engine on PostgresStore: a durable workflow with a timer and a signal, and two nodes
// sharing one schema, each run completing exactly once.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { isTerminalStatus } from "../src/core/types.js";
import { createEngine, type Engine } from "../src/runtime/engine.js";
import { workflow } from "../src/runtime/workflow.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { TestClock } from "../src/testing/test-clock.js";
import { dropSchema, PG_URL, uniqueSchema, until, whenPostgres } from "./contract/postgres.js";

await whenPostgres("engine on PostgreSQL", () => {
  describe("engine on PostgreSQL", () => {
    const engines: Engine[] = [];
    const stores: PostgresStore[] = [];
    const schemas: string[] = [];
    const errors: unknown[] = [];

    const open = (schema: string) => {
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
      stores.push(store);
      return store;
    };
    const track = (engine: Engine) => {
      engines.push(engine);
      engine.events.on("engine:error", (e) => errors.push(e));
      return engine;
    };

    afterEach(async () => {
      for (const e of engines.splice(0)) await e.stop({ graceMs: 1_000 });
      for (const s of stores.splice(0)) await s.close();
      for (const s of schemas.splice(0)) await dropSchema(s);
      const seen = errors.splice(0);
      assert.deepEqual(seen, [], "no engine errors");
    });

    it("runs a workflow with steps, a durable sleep and a signal to completion", async () => {
      const schema = uniqueSchema("dg_engine");
      schemas.push(schema);
      const clock = new TestClock();
      const calls: string[] = [];
      const flow = workflow("three-steps", async (ctx, n: number) => {
        const a = await ctx.step("add", () => {
          calls.push("add");
          return n + 1;
        });
        await ctx.sleep("cool-off", "1h");
        const bonus = await ctx.waitForSignal<number>("approve");
        return ctx.step("total", () => {
          calls.push("total");
          return a + bonus;
        });
      });
      const store = open(schema);
      const engine = track(
        createEngine({ store, clock, workflows: [flow], nodeId: "solo", random: () => 0.5 }),
      );
      const suspended: { runId: string; wakeAt?: number }[] = [];
      engine.events.on("run:suspended", (e) => suspended.push(e));
      await engine.start();

      const { runId } = await engine.startRun("three-steps", 41);
      await until(() => suspended.length === 1, "the run to sleep");
      assert.equal(suspended[0].wakeAt, clock.now() + 3_600_000);
      const sleeping = await engine.getRun(runId);
      assert.equal(sleeping.status, "waiting");

      // The engine arms its timers after PostgreSQL replies, which may be after an advance() returned:
      // keep firing whatever is due at the current time while waiting.
      const pump = (check: () => boolean | Promise<boolean>, what: string) =>
        until(async () => {
          await clock.advance(0);
          return check();
        }, what);
      await clock.advance(3_599_000);
      const settled = Date.now() + 300;
      await pump(() => Date.now() > settled, "a while at 1 ms before the timer is due");
      assert.equal(suspended.length, 1, "not woken before the timer is due");
      assert.equal((await store.getRun(runId))?.wakeAt, sleeping.wakeAt);
      await clock.advance(1_000);
      await pump(() => suspended.length === 2, "the run to wait for the signal");
      assert.deepEqual(
        (await store.loadJournal(runId)).map((e) => [e.kind, e.name, e.status]),
        [
          ["step", "add", "completed"],
          ["sleep", "cool-off", "completed"],
          ["signal", "approve", "waiting"],
        ],
      );

      await engine.signal(runId, "approve", 100);
      await pump(async () => isTerminalStatus((await engine.getRun(runId)).status), "the run to finish");
      const done = await engine.getRun(runId);
      assert.equal(done.status, "completed");
      assert.equal(done.output, 142);
      assert.deepEqual(calls, ["add", "total"]);
      assert.deepEqual(
        (await store.loadJournal(runId)).map((e) => [e.kind, e.name, e.status]),
        [
          ["step", "add", "completed"],
          ["sleep", "cool-off", "completed"],
          ["signal", "approve", "completed"],
          ["step", "total", "completed"],
        ],
      );
    });

    it("retries a failed parent with its failed child: the child's failed attempt stays, both complete", async () => {
      const schema = uniqueSchema("dg_engine");
      schemas.push(schema);
      let broken = true;
      let before = 0;
      const child = workflow("charge", async (ctx, n: number) =>
        ctx.step(
          "charge",
          () => {
            if (broken) throw new Error("card declined");
            return n * 10;
          },
          { retry: { maxAttempts: 1 } },
        ),
      );
      const parent = workflow("order", async (ctx, n: number) => {
        await ctx.step("before", () => ++before);
        return ctx.child(child, n);
      });
      const engine = track(
        createEngine({ store: open(schema), workflows: [parent, child], nodeId: "solo", random: () => 0.5 }),
      );
      await engine.start();
      const { runId } = await engine.startRun("order", 4, { runId: "o1" });
      await until(async () => (await engine.getRun(runId)).status === "failed", "the parent to fail");

      broken = false;
      await engine.retry(runId);
      await until(async () => (await engine.getRun(runId)).status === "completed", "the parent to complete");
      assert.equal((await engine.getRun(runId)).output, 40);
      assert.equal((await engine.getRun("o1:1")).status, "completed");
      assert.equal(before, 1, "the completed step did not run again");
      assert.deepEqual(
        (await engine.store.listAttempts("o1:1")).map((a) => [a.attempt, a.error.message]),
        [[1, "card declined"]],
      );
      assert.deepEqual(
        (await engine.store.loadJournal("o1:1")).map((e) => [e.status, e.attempt, e.detail?.retries?.length]),
        [["completed", 2, 1]],
      );
    });

    it("two engines on one schema share 100 runs; every run completes exactly once", async () => {
      const schema = uniqueSchema("dg_engine");
      schemas.push(schema);
      const executions = new Map<string, number>();
      const flow = workflow("shared", async (ctx, n: number) => {
        const doubled = await ctx.step("double", () => {
          executions.set(ctx.runId, (executions.get(ctx.runId) ?? 0) + 1);
          return n * 2;
        });
        const plusOne = await ctx.step("inc", () => doubled + 1);
        return plusOne;
      });
      const finished = new Map<string, string[]>();
      const node = (nodeId: string) => {
        const engine = track(
          createEngine({ store: open(schema), workflows: [flow], nodeId, maxConcurrentRuns: 10 }),
        );
        engine.events.on("run:finished", ({ runId }) =>
          finished.set(runId, [...(finished.get(runId) ?? []), nodeId]),
        );
        return engine;
      };
      const a = node("node-a");
      const b = node("node-b");
      // Runs are started by a client-only engine, so the two executing nodes must claim them.
      const client = track(createEngine({ store: open(schema), workflows: [flow], execute: false }));
      await client.start();
      await a.start();
      await b.start();

      const ids: string[] = [];
      for (let i = 0; i < 100; i++)
        ids.push((await client.startRun("shared", i, { runId: `run-${i}` })).runId);
      await until(
        async () => (await client.store.countRuns({ workflow: "shared" })).completed === 100,
        "100 runs",
        30_000,
      );

      for (const [i, runId] of ids.entries()) {
        const run = await client.getRun(runId);
        assert.equal(run.status, "completed");
        assert.equal(run.output, i * 2 + 1);
      }
      await until(() => finished.size === 100, "finish events");
      const notOnce = [...finished].filter(([, nodes]) => nodes.length !== 1);
      assert.deepEqual(notOnce, [], "each run finished on exactly one node, once");
      assert.deepEqual(
        [...executions.values()].filter((n) => n !== 1),
        [],
        "each step ran once",
      );
      assert.equal(executions.size, 100);
      const byNode = new Map<string, number>();
      for (const [, [nodeId]] of finished) byNode.set(nodeId, (byNode.get(nodeId) ?? 0) + 1);
      assert.ok(
        (byNode.get("node-a") ?? 0) > 0 && (byNode.get("node-b") ?? 0) > 0,
        JSON.stringify([...byNode]),
      );
    });
  });
});
