import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalClient } from "../../src/client/local-client.js";
import type { RunStatus } from "../../src/core/types.js";
import { createEngine, type Engine } from "../../src/runtime/engine.js";
import type { EngineOptions } from "../../src/runtime/options.js";
import type { WorkflowDefinition } from "../../src/runtime/workflow.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { TestClock } from "../../src/testing/test-clock.js";

export interface Harness {
  dir: string;
  dbPath: string;
  store: SqliteStore;
  clock: TestClock;
  engine: Engine;
  client: LocalClient;
  errors: unknown[];
  /** Stop this engine and start a fresh one (new store connection, empty cache) on the same file. */
  restart(workflows?: WorkflowDefinition[], options?: Partial<EngineOptions>): Promise<void>;
  close(): Promise<void>;
}

/** A real engine on a fresh SQLite file with a TestClock; jitter off (random = 0.5). */
export async function harness(
  workflows: WorkflowDefinition[],
  options: Partial<EngineOptions> = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "dirigent-test-"));
  const dbPath = join(dir, "test.db");
  const clock = new TestClock();
  const errors: unknown[] = [];
  const make = async (wfs: WorkflowDefinition[], opts: Partial<EngineOptions>) => {
    const store = new SqliteStore({ path: dbPath });
    const engine = createEngine({
      store,
      clock,
      workflows: wfs,
      random: () => 0.5,
      nodeId: "test-node",
      ...opts,
    });
    engine.events.on("engine:error", ({ error, context }) => errors.push({ error, context }));
    await engine.start();
    return { store, engine, client: new LocalClient(engine) };
  };
  const h: Harness = {
    dir,
    dbPath,
    clock,
    errors,
    ...(await make(workflows, options)),
    async restart(wfs = workflows, opts = options) {
      await h.engine.stop({ graceMs: 0 });
      await h.store.close();
      Object.assign(h, await make(wfs, opts));
    },
    async close() {
      await h.engine.stop({ graceMs: 0 });
      await h.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Poll (real time, short) until `check` holds; fails with `what` after timeoutMs. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what = "condition",
  timeoutMs = 5_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function untilStatus(h: Harness, runId: string, status: RunStatus) {
  let last: RunStatus | undefined;
  await eventually(async () => {
    last = (await h.store.getRun(runId))?.status;
    return last === status;
  }, `run ${runId} to be ${status}`).catch((e) => {
    throw new Error(`${e.message} (last status: ${last})`);
  });
}

/** A promise with its resolve/reject exposed, to hold a step open from the test. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
