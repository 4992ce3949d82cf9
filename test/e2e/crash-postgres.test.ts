// The end-to-end crash test of crash.test.ts on PostgreSQL: a real node process on a PostgresStore
// (its own schema) running 200 runs of 5 steps is killed with SIGKILL at random points and restarted
// until it finishes by itself; same scenario and checks (fixtures/crash-scenario.ts).
import { describe, it } from "node:test";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { dropSchema, PG_URL, uniqueSchema, whenPostgres, withAdmin } from "../contract/postgres.js";
import { waitFor } from "./fixtures/cluster-harness.js";
import { CRASH_TEST_TIMEOUT_MS, type CrashBackend, crashScenario } from "./fixtures/crash-scenario.js";

function postgresBackend(): CrashBackend {
  const schema = uniqueSchema("dg_crash");
  // The store names its connections after the schema (application_name), so the test can see them go.
  const names = [`dirigent:${schema}`, `dirigent-listener:${schema}`];
  return {
    name: "postgres",
    async prepare() {
      const url = new URL(PG_URL);
      url.searchParams.set("schema", schema);
      return url.toString();
    },
    open: () => new PostgresStore({ connectionString: PG_URL, schema, poolSize: 2 }),
    // A batch the killed process sent just before dying may still commit on the server: the database
    // says what the process committed only once the server has closed all of its connections.
    async settle() {
      await waitFor(
        "the killed node's connections to close",
        () =>
          withAdmin(async (admin) => {
            const { rows } = await admin.query<{ n: string }>(
              "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ANY($1)",
              [names],
            );
            return Number(rows[0].n) === 0;
          }),
        10_000,
        10,
      );
    },
    dispose: () => dropSchema(schema),
  };
}

await whenPostgres("kill -9 a real node on PostgreSQL", () => {
  describe("kill -9 a real node on PostgreSQL and restart it", () => {
    it(
      "completes every run, applies each step's effect per key, re-runs only steps in flight",
      {
        timeout: CRASH_TEST_TIMEOUT_MS,
      },
      () => crashScenario(postgresBackend()),
    );
  });
});
