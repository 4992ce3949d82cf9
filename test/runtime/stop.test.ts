// engine.stop() with the database unreachable: the lease releases it writes never finish, so stop gives
// them a bounded wait, reports it, and returns; the lease then runs out and another node continues.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { LocalClient } from "../../src/client/local-client.js";
import { createEngine } from "../../src/runtime/engine.js";
import { workflow } from "../../src/runtime/workflow.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store, WriteOp } from "../../src/store/store.js";
import { TestClock } from "../../src/testing/test-clock.js";
import { deferred, eventually } from "../helpers/harness.js";

/** A real SQLite store whose write() never resolves for a batch with a releaseRun (the database went away). */
function releasesHang(store: SqliteStore): { store: Store; hung: WriteOp[] } {
  const hung: WriteOp[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "write") {
        return (ops: WriteOp[]) => {
          if (!ops.some((op) => op.type === "releaseRun")) return target.write(ops);
          hung.push(...ops);
          return new Promise(() => {});
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: wrapped, hung };
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe("engine.stop with the database unreachable", () => {
  it("returns within its write bound, reports the unreleased leases, and the run continues elsewhere", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dirigent-stop-"));
    const dbPath = join(dir, "test.db");
    const clock = new TestClock();
    const gate = deferred<string>();
    const make = (node: string, hold: boolean) =>
      workflow("held", async (ctx) => ctx.step("work", async () => (hold ? gate.promise : `by ${node}`)));
    const real = new SqliteStore({ path: dbPath });
    const { store, hung } = releasesHang(real);
    const engineA = createEngine({
      store,
      clock,
      nodeId: "A",
      leaseMs: 10_000,
      workflows: [make("A", true)],
    });
    const errors: { error: unknown; context: string }[] = [];
    engineA.events.on("engine:error", (e) => errors.push(e));
    const storeB = new SqliteStore({ path: dbPath });
    const engineB = createEngine({ store: storeB, clock, nodeId: "B", workflows: [make("B", false)] });
    cleanup = async () => {
      gate.resolve("late");
      await engineB.stop({ graceMs: 0 });
      await storeB.close();
      await real.close();
      rmSync(dir, { recursive: true, force: true });
    };
    await engineA.start();
    const { runId } = await new LocalClient(engineA).start("held", null);
    await eventually(async () => (await real.getRun(runId))?.status === "running", "the run to start");

    const began = Date.now();
    await engineA.stop({ graceMs: 0, writeTimeoutMs: 200 });
    const took = Date.now() - began;
    assert.ok(took < 2_000, `stop returned after ${took} ms`);
    assert.deepEqual(
      hung.map((op) => [op.type, "runId" in op ? op.runId : undefined]),
      [["releaseRun", runId]],
      "the release was attempted and never finished",
    );
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0].context, "engine stop");
    assert.match(String((errors[0].error as Error).message), /did not finish within 200 ms.*expire/);
    assert.equal((await real.getRun(runId))?.owner, "A", "the lease was not released");

    // The lease runs out on its own; another node then claims the run and finishes it.
    await engineB.start();
    await clock.advance(11_000);
    const run = await new LocalClient(engineB).result(runId);
    assert.deepEqual([run.status, run.output], ["completed", "by B"]);
  });
});
