import type { RunStats } from "../core/types.js";

/** Assemble RunStats from per-bucket counts and a sample of step durations (shared by the stores). */
export function assembleRunStats(args: {
  since: number;
  until: number;
  bucketMs: number;
  started: { b: number; n: number }[];
  ended: { b: number; completed: number; failed: number }[];
  durationsMs: number[];
}): RunStats {
  const { since, until, bucketMs } = args;
  const count = Math.max(1, Math.min(1_000, Math.ceil((until - since) / bucketMs)));
  const buckets = Array.from({ length: count }, (_, i) => ({
    t: since + i * bucketMs,
    started: 0,
    completed: 0,
    failed: 0,
  }));
  for (const r of args.started) if (buckets[r.b]) buckets[r.b].started = Number(r.n);
  for (const r of args.ended) {
    if (!buckets[r.b]) continue;
    buckets[r.b].completed = Number(r.completed);
    buckets[r.b].failed = Number(r.failed);
  }
  const completed = buckets.reduce((s, b) => s + b.completed, 0);
  const failed = buckets.reduce((s, b) => s + b.failed, 0);
  const sorted = [...args.durationsMs].sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;
  return {
    bucketMs,
    buckets,
    failureRate: completed + failed > 0 ? failed / (completed + failed) : null,
    stepLatencyMs: { count: sorted.length, p50: pct(50), p95: pct(95), p99: pct(99) },
  };
}
