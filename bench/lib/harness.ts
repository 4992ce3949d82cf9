import type { RunStatus } from "../../src/core/types.js";
import { createEngine, type Engine } from "../../src/runtime/engine.js";
import type { EngineOptions } from "../../src/runtime/options.js";
import type { WorkflowDefinition } from "../../src/runtime/workflow.js";
import type { Store } from "../../src/store/store.js";
import { openBenchCluster } from "./cluster.js";
import { roundTripCounter, ServerCounters } from "./pg-counters.js";
import { createBenchStore } from "./store-factory.js";
import { type MethodUse, meterStore } from "./store-meter.js";
import type { BenchContext } from "./types.js";

export interface BenchEngine {
  /**
   * The engine runs are started on. In-process (no `--nodes`) it also executes them; with `--nodes N`
   * it only starts and reads (execute: false) and N engine processes execute (see cluster.ts).
   */
  engine: Engine;
  /** Engine processes executing runs: 0 when `engine` itself executes them (the default). */
  nodes: number;
  /** The metered store the engine uses. */
  store: Store;
  usage: Map<string, MethodUse>;
  finishes: FinishTracker;
  /** engine:error events seen; a benchmark fails if any occurred. */
  errors: { error: unknown; context: string }[];
  /** Forget store usage and batcher counts so far (after a warm-up). */
  resetCounters(): void;
  /** resetCounters, and the same in every node process and on the PostgreSQL server's counters. */
  reset(): Promise<void>;
  batcherSince(): { batches: number; writes: number };
  /**
   * Figures known only at the end, as result fields: with `--nodes`, the node processes' store usage is
   * merged into `usage` and their batches into batcherSince(); on PostgreSQL, round trips and commits
   * per run (counted by the store) and the server's WAL syncs and commits per run (pg_stat_wal and
   * pg_stat_database: server-wide, so other clients of the server add to them).
   */
  collect(runs: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** A started engine on a fresh metered store, with a finish tracker listening to run:finished. */
export async function openBenchEngine(
  ctx: BenchContext,
  workflows: WorkflowDefinition[],
  options: Omit<EngineOptions, "store" | "workflows"> = {},
): Promise<BenchEngine> {
  if (ctx.nodes) return openBenchCluster(ctx, workflows, options);
  const bench = await createBenchStore(ctx.store, { pgUrl: ctx.pgUrl, coldWal: ctx.coldWal });
  ctx.log(`store: ${bench.location}`);
  const { store, usage } = meterStore(bench.store);
  const cache = ctx.maxCachedRuns === undefined ? {} : { maxCachedRuns: ctx.maxCachedRuns };
  const engine = createEngine({ store, workflows, ...cache, ...options });
  const errors: { error: unknown; context: string }[] = [];
  engine.events.on("engine:error", (e) => errors.push(e));
  const finishes = new FinishTracker(engine);
  await engine.start();
  const server = ctx.store === "postgres" ? new ServerCounters(ctx.pgUrl) : undefined;
  const counted = roundTripCounter(bench.store);
  let base = { batches: 0, writes: 0 };
  const self: BenchEngine = {
    engine,
    nodes: 0,
    store,
    usage,
    finishes,
    errors,
    resetCounters() {
      usage.clear();
      const s = engine.stats();
      base = { batches: s.batches, writes: s.writes };
      counted?.reset();
    },
    async reset() {
      self.resetCounters();
      await server?.reset();
    },
    batcherSince() {
      const s = engine.stats();
      return { batches: s.batches - base.batches, writes: s.writes - base.writes };
    },
    async collect(runs) {
      return { ...counted?.perRun(runs), ...(await server?.perRun(runs)) };
    },
    async close() {
      await engine.stop();
      await bench.dispose();
    },
  };
  self.resetCounters();
  return self;
}

/**
 * Hears every run:finished event once and records when it came, so a benchmark can await thousands of
 * runs without one polling wait per run.
 */
export class FinishTracker {
  /** performance.now() of each finish, by run id. */
  readonly finishedAt = new Map<string, number>();
  readonly statusOf = new Map<string, RunStatus>();
  private waiters = new Map<string, () => void>();
  private countWaiters: { prefix: string; n: number; resolve: () => void }[] = [];
  private counts = new Map<string, number>();

  /** Listens to the engine's run:finished events; without one, finishes come through record(). */
  constructor(engine?: Engine) {
    engine?.events.on("run:finished", ({ runId, status }) => this.record(runId, status));
  }

  /** A run finished at `at` (performance.now() of this process). */
  record(runId: string, status: RunStatus, at = performance.now()): void {
    if (this.finishedAt.has(runId)) return;
    this.finishedAt.set(runId, at);
    this.statusOf.set(runId, status);
    const prefix = runId.slice(0, runId.indexOf("-") + 1);
    const n = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, n);
    this.waiters.get(runId)?.();
    this.waiters.delete(runId);
    if (this.countWaiters.length) {
      this.countWaiters = this.countWaiters.filter((w) => {
        if (w.prefix !== prefix || n < w.n) return true;
        w.resolve();
        return false;
      });
    }
  }

  /** Resolves when the run finishes (register before starting it). */
  waitFor(runId: string): Promise<void> {
    if (this.finishedAt.has(runId)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(runId, resolve));
  }

  /** Resolves once `n` runs whose id starts with `prefix` (up to and including its first "-") finished. */
  waitForCount(prefix: string, n: number, timeoutMs = 300_000): Promise<void> {
    if ((this.counts.get(prefix) ?? 0) >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `only ${this.counts.get(prefix) ?? 0} of ${n} runs "${prefix}*" finished in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.countWaiters.push({
        prefix,
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Throw unless every listed run completed. */
  assertCompleted(runIds: string[]): void {
    const bad = runIds.filter((id) => this.statusOf.get(id) !== "completed");
    if (bad.length) {
      throw new Error(
        `${bad.length} runs did not complete, e.g. ${bad[0]}: ${this.statusOf.get(bad[0]) ?? "unfinished"}`,
      );
    }
  }
}

/** Fail the benchmark if the engine reported errors. */
export function assertNoEngineErrors(h: BenchEngine): void {
  if (h.errors.length) {
    const first = h.errors[0];
    throw new Error(
      `${h.errors.length} engine errors, first in ${first.context}: ${String((first.error as Error)?.stack ?? first.error)}`,
    );
  }
}
