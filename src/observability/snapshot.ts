import type { RunStatus } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";

/** What the gauges of one scrape show, read from the store at once. */
export interface EngineSnapshot {
  runs: Record<RunStatus, number>;
  queues: {
    queue: string;
    queued: number;
    leased: number;
    oldestQueuedAgeMs: number;
    /** Workers that polled within the activity window. */
    activeWorkers: number;
  }[];
  /** Waiting runs with a wake-up time; counted up to the scan limit. */
  pendingTimers: number;
}

const PAGE = 500;

/**
 * Read the store-backed figures: runs by status, queue depth, oldest task age, connected workers and
 * pending timers. The store has no count of timers, so waiting runs are read page by page up to
 * `maxTimerScan` (docs/observability.md proposes a store method for it).
 */
export async function collectSnapshot(
  engine: Engine,
  options: { workerActiveWindowMs: number; maxTimerScan: number },
): Promise<EngineSnapshot> {
  const now = engine.clock.now();
  const [runs, queues, pendingTimers] = await Promise.all([
    engine.store.countRuns(),
    engine.tasks.list(),
    countTimers(engine, options.maxTimerScan),
  ]);
  return {
    runs,
    pendingTimers,
    queues: queues.map((q) => ({
      queue: q.queue,
      queued: q.queued,
      leased: q.leased,
      oldestQueuedAgeMs: q.oldestQueuedAgeMs,
      activeWorkers: q.workers.filter((w) => now - w.lastSeenAt <= options.workerActiveWindowMs).length,
    })),
  };
}

async function countTimers(engine: Engine, maxScan: number): Promise<number> {
  let count = 0;
  let scanned = 0;
  let cursor: string | undefined;
  while (scanned < maxScan) {
    const page = await engine.store.listRuns({
      status: ["waiting"],
      limit: Math.min(PAGE, maxScan - scanned),
      cursor,
    });
    scanned += page.runs.length;
    for (const run of page.runs) if (run.wakeAt !== undefined) count++;
    if (!page.nextCursor || page.runs.length === 0) break;
    cursor = page.nextCursor;
  }
  return count;
}
