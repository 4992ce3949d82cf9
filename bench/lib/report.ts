import Table from "cli-table3";
import { type Benchmark, type BenchResult, targetFor } from "./types.js";

/** The outcome of one benchmark over its repetitions. */
export interface BenchOutcome {
  bench: Benchmark;
  /** One result per repetition, in order. */
  results: BenchResult[];
  /** The field-wise median of the results. */
  median: BenchResult;
}

const COMMON = ["bench", "store", "runs", "throughput_wf_s", "p50_ms", "p95_ms", "p99_ms", "rss_mb"] as const;

function show(value: unknown): string {
  return value === null || value === undefined ? "-" : String(value);
}

/** Whether the result meets its benchmark's target (undefined when the field is missing). */
export function meetsTarget(bench: Benchmark, result: BenchResult): boolean | undefined {
  const target = targetFor(bench, result.store);
  const value = result[target.field];
  if (typeof value !== "number") return undefined;
  return target.op === ">=" ? value >= target.value : value <= target.value;
}

/** The summary table: medians, the target, each repetition's headline figure, and what explains it. */
export function renderTable(outcomes: BenchOutcome[], repeat: number): string {
  const table = new Table({
    head: [
      "benchmark",
      "store",
      "runs",
      "wf/s",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "RSS MB",
      "target",
      "median",
      "met",
      `each of ${repeat}`,
    ],
    style: { head: [], border: [] },
  });
  for (const { bench, results, median } of outcomes) {
    const t = targetFor(bench, median.store);
    const met = meetsTarget(bench, median);
    table.push([
      bench.name,
      median.store,
      show(median.runs),
      show(median.throughput_wf_s),
      show(median.p50_ms),
      show(median.p95_ms),
      show(median.p99_ms),
      show(median.rss_mb),
      `${t.field} ${t.op} ${t.value.toLocaleString("en-US")} ${t.unit}`,
      show(median[t.field]),
      met === undefined ? "?" : met ? "yes" : "NO",
      results.map((r) => show(r[t.field])).join(" / "),
    ]);
  }
  const notes = outcomes.map(({ bench, median }) => `  ${bench.name}: ${bench.explain(median)}`);
  return `${table.toString()}\nmedians of ${repeat} run(s), each in a fresh process:\n${notes.join("\n")}`;
}

/** One JSON line: the common fields first, then the benchmark's own, then how it was measured. */
export function jsonLine(
  outcome: BenchOutcome,
  meta: { repeat: number; quick: boolean; coldWal: boolean; maxCachedRuns?: number },
): string {
  const m = outcome.median;
  const line: Record<string, unknown> = {};
  for (const key of COMMON) line[key] = m[key] ?? null;
  for (const [key, value] of Object.entries(m)) if (!(key in line)) line[key] = value;
  line.repeat = meta.repeat;
  line.quick = meta.quick;
  if (meta.maxCachedRuns !== undefined) line.max_cached_runs = meta.maxCachedRuns;
  if (m.store === "sqlite") line.wal = meta.coldWal ? "cold" : "primed";
  line.target_met = meetsTarget(outcome.bench, m) ?? null;
  line.each = outcome.results.map((r) => r[targetFor(outcome.bench, r.store).field] ?? null);
  return JSON.stringify(line);
}
