import type { Store } from "../../src/store/store.js";
import { round } from "./stats.js";
import { nowMs } from "./timing.js";

export interface MethodUse {
  calls: number;
  /**
   * Time until the call returned, summed: the time the event loop was blocked in it. For SQLite
   * (better-sqlite3 is synchronous) this is all of the store's work.
   */
  blockedMs: number;
  /**
   * Time until the returned promise settled, summed. For PostgreSQL this is the round trip; calls
   * overlap, so the sum can exceed the wall time. (For SQLite it only adds queueing behind other work.)
   */
  settledMs: number;
}

/**
 * Wrap a store so every method call is counted and timed, without changing what it does. This shows
 * where a benchmark's time goes: how many transactions (write batches, claim passes, lease renewals)
 * and reads each run costs, and how much of the wall time is spent inside the store.
 */
export function meterStore(store: Store): { store: Store; usage: Map<string, MethodUse> } {
  const usage = new Map<string, MethodUse>();
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || typeof key !== "string" || key === "constructor") return value;
      return (...args: unknown[]) => {
        let use = usage.get(key);
        if (!use) usage.set(key, (use = { calls: 0, blockedMs: 0, settledMs: 0 }));
        const entry = use;
        entry.calls++;
        const t0 = nowMs();
        const result = value.apply(target, args);
        const blocked = nowMs() - t0;
        entry.blockedMs += blocked;
        if (result instanceof Promise) {
          return result.finally(() => {
            entry.settledMs += nowMs() - t0;
          });
        }
        entry.settledMs += blocked;
        return result;
      };
    },
  });
  return { store: proxy, usage };
}

/** Store calls that are write transactions: commit batches, claim passes, lease renewals, task leases. */
const WRITE_METHODS = ["write", "claimRuns", "renewLeases", "leaseTasks"];

/**
 * Per-run figures of a metered store, for a benchmark result. The store's time is the blocked time
 * for SQLite (synchronous) and the time to settlement for PostgreSQL (asynchronous, overlapping).
 */
export function storeUsagePerRun(usage: Map<string, MethodUse>, runs: number, wallMs: number, kind: string) {
  const timeOf = (u: MethodUse) => (kind === "sqlite" ? u.blockedMs : u.settledMs);
  let txns = 0;
  let reads = 0;
  let storeMs = 0;
  const used = [...usage].filter(([m]) => m !== "migrate" && m !== "close");
  for (const [method, use] of used) {
    if (WRITE_METHODS.includes(method)) txns += use.calls;
    else reads += use.calls;
    storeMs += timeOf(use);
  }
  return {
    store_txns_per_run: round(txns / runs),
    store_reads_per_run: round(reads / runs),
    store_ms_per_run: round(storeMs / runs),
    /** Store time over wall time (SQLite: the share of the run the event loop spent in the store). */
    store_time_share: wallMs > 0 ? round(storeMs / wallMs) : null,
    store_calls: Object.fromEntries(used.map(([m, u]) => [m, { calls: u.calls, ms: round(timeOf(u), 1) }])),
  };
}

/** Per-run figures of the engine's group-commit batcher. */
export function batcherPerRun(stats: { batches: number; writes: number }, runs: number) {
  return {
    batches_per_run: round(stats.batches / runs),
    writes_per_run: round(stats.writes / runs),
  };
}
