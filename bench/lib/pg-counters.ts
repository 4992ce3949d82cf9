import pg from "pg";
import type { Store } from "../../src/store/store.js";
import { round } from "./stats.js";

interface StoreCounts {
  roundTrips: number;
  commits: number;
}

/** A store that counts its server round trips and writing commits (PostgresStore.stats()). */
function countsOf(store: Store): (() => StoreCounts) | undefined {
  const stats = (store as { stats?: () => StoreCounts }).stats;
  return typeof stats === "function" ? () => stats.call(store) : undefined;
}

/**
 * Round trips and commits per run, from the store's own counters (PostgresStore counts every message
 * that waits for the server and every transaction that wrote). Undefined for stores without them.
 * Pass the unmetered store: a call through the meter would count as a store call.
 */
export function roundTripCounter(store: Store) {
  const read = countsOf(store);
  if (!read) return undefined;
  let base = read();
  return {
    reset() {
      base = read();
    },
    since(): StoreCounts {
      const now = read();
      return { roundTrips: now.roundTrips - base.roundTrips, commits: now.commits - base.commits };
    },
    perRun(runs: number) {
      return perRunFields(this.since(), runs);
    },
  };
}

export function perRunFields(counts: StoreCounts, runs: number) {
  return {
    pg_round_trips_per_run: round(counts.roundTrips / runs),
    pg_commits_per_run: round(counts.commits / runs),
  };
}

/**
 * The PostgreSQL server's own counters: WAL flushes to disk (pg_stat_wal.wal_sync) and committed
 * transactions of the database (pg_stat_database.xact_commit, read-only ones included). Both count
 * every client of the server, so other work on the machine adds to them: read them beside the store's
 * exact counts, not instead.
 */
export class ServerCounters {
  private base: { walSyncs: number; xactCommits: number } | undefined;

  constructor(private readonly url: string) {}

  private async read() {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ wal_sync: string; xact_commit: string }>(
        `SELECT (SELECT wal_sync FROM pg_stat_wal) AS wal_sync,
                (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS xact_commit`,
      );
      return { walSyncs: Number(rows[0].wal_sync), xactCommits: Number(rows[0].xact_commit) };
    } finally {
      await client.end();
    }
  }

  async reset(): Promise<void> {
    this.base = await this.read();
  }

  async perRun(runs: number) {
    if (!this.base) return {};
    // Backends publish their statistics when idle, at most once a second: let them.
    await new Promise((r) => setTimeout(r, 1_500));
    const now = await this.read();
    return {
      server_wal_syncs_per_run: round((now.walSyncs - this.base.walSyncs) / runs),
      server_xact_commits_per_run: round((now.xactCommits - this.base.xactCommits) / runs),
    };
  }
}
