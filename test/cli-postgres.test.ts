// The real `dirigent` binary in local mode on PostgreSQL: --db and DIRIGENT_DATABASE_URL name a
// postgres:// URL (with ?schema=), an unreachable server is a clear error, and a read-only command
// refuses a schema that does not exist instead of creating it.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { dropSchema, PG_URL, uniqueSchema, whenPostgres, withAdmin } from "./contract/postgres.js";
import { type CliResult, runCli } from "./fixtures/cli-run.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/cli-workflows.ts", import.meta.url));

function withSchema(schema: string): string {
  const url = new URL(PG_URL);
  url.searchParams.set("schema", schema);
  return url.toString();
}

async function schemaExists(schema: string): Promise<boolean> {
  const { rows } = await withAdmin((c) =>
    c.query("SELECT count(*)::int AS n FROM pg_catalog.pg_namespace WHERE nspname = $1", [schema]),
  );
  return rows[0].n === 1;
}

function parsed(r: CliResult, expectCode = 0): any {
  assert.equal(r.code, expectCode, `exit code; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

let dir: string;

await whenPostgres("dirigent CLI on PostgreSQL", () => {
  describe("dirigent CLI (local mode) on PostgreSQL", () => {
    const schema = uniqueSchema("dg_cli");
    const db = withSchema(schema);
    const cli = (args: string[], env?: Record<string, string>) => runCli(args, { cwd: dir, env });

    before(() => {
      dir = mkdtempSync(join(tmpdir(), "dirigent-cli-pg-"));
    });

    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await dropSchema(schema);
    });

    it("executes a run in the URL's schema; later commands without --module read it", async () => {
      const executed = parsed(
        await cli([
          "--db",
          db,
          "--module",
          FIXTURE,
          "workflow",
          "execute",
          "greet",
          "--input",
          '{"name":"pg"}',
          "--run-id",
          "pg-1",
          "-o",
          "json",
        ]),
      );
      assert.equal(executed.runId, "pg-1");
      assert.equal(executed.status, "completed");
      assert.deepEqual(executed.output, { greeting: "hello pg" });

      const listed = parsed(await cli(["--db", db, "workflow", "list", "-o", "json"]));
      assert.deepEqual(
        listed.runs.map((r: any) => [r.runId, r.status]),
        [["pg-1", "completed"]],
      );
      // DIRIGENT_DATABASE_URL names the same database.
      const described = parsed(
        await cli(["workflow", "describe", "pg-1", "-o", "json"], { DIRIGENT_DATABASE_URL: db }),
      );
      assert.equal(described.status, "completed");

      // The tables are in the schema the URL named, and nothing was written to a SQLite file.
      const tables = await withAdmin((c) =>
        c.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1", [schema]),
      );
      assert.ok(tables.rows[0].n > 0, "tables in the named schema");
      const run = await withAdmin((c) => c.query(`SELECT status FROM ${schema}.runs WHERE run_id = 'pg-1'`));
      assert.equal(run.rows[0]?.status, "completed");
    });

    it("a read-only command refuses a schema that does not exist, creating nothing; an existing one works", async () => {
      const typo = uniqueSchema("dg_cli_typo");
      after(() => dropSchema(typo)); // only if this test fails: the schema must never be created
      const url = new URL(PG_URL);
      const secret = url.password || "s3cret"; // trust auth ignores it; it must never be shown
      url.password = secret;
      url.searchParams.set("schema", typo);
      const r = await cli(["--db", url.toString(), "workflow", "list", "-o", "json"]);
      const doc = parsed(r, 1);
      assert.equal(doc.error.code, "INVALID_ARGUMENT");
      assert.match(
        doc.error.message,
        new RegExp(`^schema "${typo}" does not exist in database "postgres://[^/]*:\\*\\*\\*@`),
      );
      assert.ok(!(r.stdout + r.stderr).includes(secret), "the password is not shown");
      assert.equal(await schemaExists(typo), false, "the missing schema was not created");

      const table = await cli(["--db", withSchema(typo), "workflow", "describe", "nope"]);
      assert.equal(table.code, 1);
      assert.match(
        table.stderr,
        new RegExp(`^error INVALID_ARGUMENT: schema "${typo}" does not exist in database `, "m"),
      );
      assert.equal(await schemaExists(typo), false);

      // An existing schema, empty: a read-only command migrates it and reads nothing.
      const empty = uniqueSchema("dg_cli_empty");
      await withAdmin((c) => c.query(`CREATE SCHEMA ${empty}`));
      try {
        const listed = parsed(await cli(["--db", withSchema(empty), "workflow", "list", "-o", "json"]));
        assert.deepEqual(listed.runs, []);
      } finally {
        await dropSchema(empty);
      }
    });

    it("an unreachable server: INVALID_ARGUMENT naming the database without its password, exit 1", async () => {
      const r = await cli([
        "--db",
        "postgres://someone:s3cret@127.0.0.1:1/test?schema=nowhere",
        "workflow",
        "list",
        "-o",
        "json",
      ]);
      const doc = parsed(r, 1);
      assert.equal(doc.error.code, "INVALID_ARGUMENT");
      assert.match(
        doc.error.message,
        /^cannot open database "postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/test/,
      );
      assert.match(doc.error.message, /ECONNREFUSED/);
      assert.doesNotMatch(r.stdout + r.stderr, /s3cret/);

      const table = await cli(["--db", "postgres://postgres@127.0.0.1:1/test", "workflow", "list"]);
      assert.equal(table.code, 1);
      assert.match(
        table.stderr,
        /^error INVALID_ARGUMENT: cannot open database "postgres:\/\/postgres@127\.0\.0\.1:1\/test": .*ECONNREFUSED/m,
      );
      assert.doesNotMatch(table.stderr, /\n\s+at .+:\d+:\d+/, "no stack trace");
    });
  });
});
