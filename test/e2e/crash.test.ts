// End-to-end crash test on SQLite: a real node process running 200 runs of 5 steps is killed with
// SIGKILL at random points and restarted until it finishes by itself; the scenario and its checks are in
// fixtures/crash-scenario.ts (crash-postgres.test.ts runs the same one on PostgreSQL).
import { join } from "node:path";
import { describe, it } from "node:test";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { CRASH_TEST_TIMEOUT_MS, type CrashBackend, crashScenario } from "./fixtures/crash-scenario.js";

function sqliteBackend(): CrashBackend {
  let path = "";
  return {
    name: "sqlite",
    async prepare(dir) {
      path = join(dir, "crash.db");
      return path;
    },
    open: () => new SqliteStore({ path }),
    // A killed process's SQLite commits are on disk or not at all once it is gone.
    async settle() {},
    async dispose() {},
  };
}

describe("kill -9 a real node and restart it", () => {
  it(
    "completes every run, applies each step's effect per key, re-runs only steps in flight",
    {
      timeout: CRASH_TEST_TIMEOUT_MS,
    },
    () => crashScenario(sqliteBackend()),
  );
});
