import { readdirSync, readFileSync } from "node:fs";
import type { Kysely, Migration, MigrationProvider } from "kysely";
import { DirigentError } from "../core/errors.js";

/**
 * Numbered SQL migrations per dialect (`NNN_name.sql` in a folder), applied by Kysely's Migrator, which
 * keeps the bookkeeping table and, on PostgreSQL, a lock so several nodes starting at once apply each
 * migration exactly once. `runSql` executes one file's text inside the migrator's transaction.
 */
export async function migrateFolder(
  db: Kysely<any>,
  folder: URL,
  runSql: (db: Kysely<any>, text: string) => Promise<void>,
): Promise<void> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const migrations: Record<string, Migration> = {};
      for (const file of readdirSync(folder)
        .filter((f) => /^\d{3}_.*\.sql$/.test(f))
        .sort()) {
        const text = readFileSync(new URL(file, folder), "utf8");
        migrations[file.replace(/\.sql$/, "")] = { up: (tx) => runSql(tx, text) };
      }
      return migrations;
    },
  };
  // Loaded on demand: Kysely is only needed while migrating, and importing it costs CLI start-up time.
  const { Migrator } = await import("kysely");
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new DirigentError("INTERNAL", `migration ${failed ?? "?"} failed: ${(error as Error).message}`);
  }
}
