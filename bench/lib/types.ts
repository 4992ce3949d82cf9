import type { StoreKind } from "./store-factory.js";

/** What a benchmark child is told. */
export interface BenchContext {
  store: StoreKind;
  pgUrl: string;
  /** Smaller sizes for a smoke run. */
  quick: boolean;
  /** SQLite: do not prime the write-ahead log (measure a just-created file). */
  coldWal: boolean;
  /** The engine option maxCachedRuns, when set (otherwise the engine's default, 1,000). */
  maxCachedRuns?: number;
  /**
   * `--nodes N` (PostgreSQL): N engine processes on one schema execute the runs, which this process
   * only starts (see lib/cluster.ts). Undefined: this process's engine executes them itself.
   */
  nodes?: number;
  /** Progress lines go to stderr (stdout carries the result). */
  log(message: string): void;
}

/**
 * One benchmark's figures. The first fields are the common JSON line; fields that do not apply are
 * null. A benchmark adds its own fields after them.
 */
export interface BenchResult {
  bench: string;
  store: StoreKind;
  /** Workflow runs the benchmark executed (not counting warm-up). */
  runs: number;
  throughput_wf_s: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  /** Resident set size of the benchmark process when the measurement ended, in MiB. */
  rss_mb: number | null;
  [extra: string]: unknown;
}

export interface Benchmark {
  name: string;
  /** One line: what is measured. */
  describe: string;
  /** The target, as a field of the result and a bound. */
  target: BenchTarget;
  /** A different target on some backend (PostgreSQL's are set against DBOS on the same machine). */
  targetOn?: Partial<Record<StoreKind, BenchTarget>>;
  run(ctx: BenchContext): Promise<BenchResult>;
  /** A short note for the table: the figures that explain the headline one. */
  explain(result: BenchResult): string;
}

export interface BenchTarget {
  field: string;
  op: "<=" | ">=";
  value: number;
  unit: string;
}

/** The target that applies to a result on `store`. */
export function targetFor(bench: Benchmark, store: StoreKind): BenchTarget {
  return bench.targetOn?.[store] ?? bench.target;
}
