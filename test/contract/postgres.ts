// Shared set-up of the PostgreSQL tests: where the server is, unique schemas, and what to do when the
// server is not there (fail on CI, skip loudly elsewhere).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";

export const PG_URL = process.env.DIRIGENT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A schema name no other test (or test process) uses. */
export function uniqueSchema(prefix = "dg_test"): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdmin((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/** Run `fn` with a plain connection of its own (not a store's), closed afterwards. */
export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, application_name: "dirigent-test-admin" });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Why PostgreSQL cannot be used, or undefined when it can. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Define the PostgreSQL tests if the server is reachable. If it is not: on CI (CI=true) a failing test
 * says so; elsewhere a warning is printed and the tests are reported as skipped, with the reason.
 */
export async function whenPostgres(name: string, define: () => void): Promise<void> {
  const reason = await postgresUnavailable();
  if (reason === undefined) {
    define();
    return;
  }
  const message = `PostgreSQL is not reachable at ${PG_URL} (${reason}); set DIRIGENT_TEST_POSTGRES_URL`;
  if (process.env.CI === "true") {
    test(name, () => assert.fail(message));
  } else {
    console.warn(`\n!!! SKIPPING ${name}: ${message}\n`);
    test(name, { skip: message }, () => {});
  }
}

/** Poll `check` every few ms until it is true, failing after `timeoutMs` of real time. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
