import type { RunStatus } from "../../src/core/types.js";
import { createEngine, type Engine } from "../../src/runtime/engine.js";
import type { EngineOptions } from "../../src/runtime/options.js";
import type { WorkflowDefinition } from "../../src/runtime/workflow.js";
import type { Store } from "../../src/store/store.js";
import { createBenchStore } from "./store-factory.js";
import { type MethodUse, meterStore } from "./store-meter.js";
import type { BenchContext } from "./types.js";

export interface BenchEngine {
  engine: Engine;
  /** The metered store the engine uses. */
  store: Store;
  usage: Map<string, MethodUse>;
  finishes: FinishTracker;
  /** engine:error events seen; a benchmark fails if any occurred. */
  errors: { error: unknown; context: string }[];
  /** Forget store usage and batcher counts so far (after a warm-up). */
  resetCounters(): void;
  batcherSince(): { batches: number; writes: number };
  close(): Promise<void>;
}

/** A started engine on a fresh metered store, with a finish tracker listening to run:finished. */
export async function openBenchEngine(
  ctx: BenchContext,
  workflows: WorkflowDefinition[],
  options: Omit<EngineOptions, "store" | "workflows"> = {},
): Promise<BenchEngine> {
  const bench = await createBenchStore(ctx.store, { pgUrl: ctx.pgUrl, coldWal: ctx.coldWal });
  ctx.log(`store: ${bench.location}`);
  const { store, usage } = meterStore(bench.store);
  const cache = ctx.maxCachedRuns === undefined ? {} : { maxCachedRuns: ctx.maxCachedRuns };
  const engine = createEngine({ store, workflows, ...cache, ...options });
  const errors: { error: unknown; context: string }[] = [];
  engine.events.on("engine:error", (e) => errors.push(e));
  const finishes = new FinishTracker(engine);
  await engine.start();
  let base = { batches: 0, writes: 0 };
  const self: BenchEngine = {
    engine,
    store,
    usage,
    finishes,
    errors,
    resetCounters() {
      usage.clear();
      const s = engine.stats();
      base = { batches: s.batches, writes: s.writes };
    },
    batcherSince() {
      const s = engine.stats();
      return { batches: s.batches - base.batches, writes: s.writes - base.writes };
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

  constructor(engine: Engine) {
    engine.events.on("run:finished", ({ runId, status }) => {
      this.finishedAt.set(runId, performance.now());
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
    });
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
