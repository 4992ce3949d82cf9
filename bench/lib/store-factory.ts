import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";

export type StoreKind = "sqlite" | "postgres";

export const DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test";

export interface BenchStore {
  store: Store;
  /** Where the data lives (a file path or a schema), for the report. */
  location: string;
  /** PostgreSQL: the schema, for other processes to open the same data (`--nodes`). */
  schema?: string;
  /** Close the store and delete its data (the temp file, or the schema). */
  dispose(): Promise<void>;
}

export interface BenchStoreOptions {
  pgUrl?: string;
  /** SQLite: leave the write-ahead log cold (see primeWriteAheadLog). */
  coldWal?: boolean;
}

/**
 * A fresh, empty store for one benchmark: a new SQLite file in a temp folder with `synchronous=FULL`
 * (every commit on disk before it returns: the durability the targets are quoted for), or a new
 * PostgreSQL schema that is dropped afterwards.
 */
export async function createBenchStore(
  kind: StoreKind,
  options: BenchStoreOptions = {},
): Promise<BenchStore> {
  return kind === "postgres"
    ? createPostgresStore(options.pgUrl ?? DEFAULT_PG_URL)
    : createSqliteStore(options);
}

function createSqliteStore(options: BenchStoreOptions): BenchStore {
  const dir = mkdtempSync(join(tmpdir(), "dirigent-bench-"));
  const path = join(dir, "bench.db");
  const store = new SqliteStore({ path, synchronous: "full" });
  if (!options.coldWal) primeWriteAheadLog(store);
  return {
    store,
    location: path,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Bring a new SQLite file to the state of one that has been in use for a while. Until the write-ahead
 * log reaches its first checkpoint (1,000 pages) every commit appends to the log file, and an fsync
 * that also has to record a new file size costs several times one that overwrites blocks in place
 * (long-history without priming, on this machine: 3.0 ms per step at p95 against 0.24 ms). A long-running engine pays that only in its first
 * thousand or so commits after opening the file; the benchmarks measure the steady state, so one
 * throwaway transaction of ~1,200 pages grows the log (and the file's free list) first. The table is
 * created before the store's migrations and dropped at once; the schema is not otherwise touched.
 */
function primeWriteAheadLog(store: SqliteStore): void {
  const db = store.db;
  db.exec("CREATE TABLE bench_wal_prime (filler BLOB)");
  const insert = db.prepare("INSERT INTO bench_wal_prime VALUES (zeroblob(4000))");
  db.transaction(() => {
    for (let i = 0; i < 1_200; i++) insert.run();
  })();
  db.exec("DROP TABLE bench_wal_prime");
  db.pragma("wal_checkpoint(PASSIVE)");
}

const POSTGRES_MODULE = "../../src/store/postgres/postgres-store.js";

type StoreClass = new (options: Record<string, unknown>) => Store;

/** Load the PostgreSQL store, which is optional for the type check and may not exist yet. */
async function loadPostgresStore(): Promise<StoreClass> {
  let mod: Record<string, unknown>;
  try {
    const specifier = POSTGRES_MODULE; // a variable, so tsc does not require the module to exist
    mod = await import(specifier);
  } catch (error) {
    throw new Error(
      `--store postgres needs src/store/postgres/postgres-store.ts (exporting PostgresStore), and it could not be loaded: ${(error as Error).message}`,
    );
  }
  if (typeof mod.PostgresStore !== "function") {
    throw new Error("src/store/postgres/postgres-store.ts does not export a PostgresStore class");
  }
  return mod.PostgresStore as StoreClass;
}

async function createPostgresStore(url: string): Promise<BenchStore> {
  const PostgresStore = await loadPostgresStore();
  const schema = `bench_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`cannot connect to PostgreSQL at ${url}: ${(error as Error).message}`);
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const store = new PostgresStore({ connectionString: url, schema });
  return {
    store,
    location: `${url} schema ${schema}`,
    schema,
    async dispose() {
      await store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

/** Fail early, with a clear message, when the chosen backend cannot be used at all. */
export async function assertStoreAvailable(kind: StoreKind): Promise<void> {
  if (kind === "postgres") await loadPostgresStore();
}
