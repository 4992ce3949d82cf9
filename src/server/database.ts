// Which database a URL names, and opening its store. Shared by the server and the CLI's local mode, so
// it imports nothing heavy: each store is loaded when it is opened, so a SQLite-only use never loads
// `pg`, and reading a URL loads neither.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DirigentError, isDirigentError } from "../core/errors.js";
import type { Store } from "../store/store.js";

export type DatabaseTarget = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string };

/** `sqlite:./x.db`, `sqlite:///abs/x.db`, `sqlite::memory:`, a plain path, or `postgres(ql)://…`. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  const target = parseDatabaseUrlSafe(url);
  if (!target) {
    throw new DirigentError(
      "INVALID_OPTIONS",
      `database URL "${url}" is not one Dirigent can open (expected sqlite:./file.db or postgres://…)`,
    );
  }
  return target;
}

/** parseDatabaseUrl, with undefined for a URL it refuses. */
export function parseDatabaseUrlSafe(url: string): DatabaseTarget | undefined {
  if (/^postgres(ql)?:\/\/./i.test(url)) return { kind: "postgres", url };
  if (/^sqlite:/i.test(url)) {
    let path = url.slice("sqlite:".length);
    if (path.startsWith("//")) path = path.slice(2);
    return path === "" ? undefined : { kind: "sqlite", path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || url === "") return undefined;
  return { kind: "sqlite", path: url };
}

/** The database for messages: the file path, or the URL without its password. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.kind === "sqlite") return target.path;
  try {
    const url = new URL(target.url);
    if (url.password === "") return target.url;
    url.password = "***";
    return url.toString();
  } catch {
    return target.url.replace(/:[^:@/]*@/, ":***@");
  }
}

export interface OpenStoreOptions {
  /**
   * PostgreSQL: whether the store's migration creates the URL's `?schema=` when it does not exist
   * (default true, as a server does). false: the migration fails with INVALID_OPTIONS
   * (`details.reason` "schema-missing") and creates nothing.
   */
  createSchema?: boolean;
}

/**
 * Open the store a database URL (or parsed target) names; a SQLite file's folder is created. Opening
 * connects to nothing yet: an unreachable PostgreSQL server shows at the store's first use (migrate).
 */
export async function openStore(
  database: string | DatabaseTarget,
  options: OpenStoreOptions = {},
): Promise<Store> {
  const target = typeof database === "string" ? parseDatabaseUrl(database) : database;
  if (target.kind === "sqlite") {
    const { SqliteStore } = await import("../store/sqlite/sqlite-store.js");
    try {
      if (target.path !== ":memory:") mkdirSync(dirname(target.path), { recursive: true });
      return new SqliteStore({ path: target.path });
    } catch (error) {
      throw new DirigentError(
        "INVALID_OPTIONS",
        `cannot open SQLite database "${target.path}": ${(error as Error).message}`,
      );
    }
  }
  let mod: {
    PostgresStore?: new (options: { connectionString: string; createSchema?: boolean }) => Store;
  };
  try {
    mod = await import(new URL("../store/postgres/postgres-store.js", import.meta.url).href);
  } catch (error) {
    if (isDirigentError(error)) throw error;
    throw new DirigentError(
      "INVALID_OPTIONS",
      `PostgreSQL is not available in this build: ${(error as Error).message}`,
    );
  }
  if (typeof mod.PostgresStore !== "function") {
    throw new DirigentError("INVALID_OPTIONS", "PostgreSQL is not available in this build: no PostgresStore");
  }
  return new mod.PostgresStore({ connectionString: target.url, createSchema: options.createSchema });
}
