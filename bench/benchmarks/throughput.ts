import { assertNoEngineErrors, type BenchEngine, openBenchEngine } from "../lib/harness.js";
import { pct, round, summarize } from "../lib/stats.js";
import { batcherPerRun, storeUsagePerRun } from "../lib/store-meter.js";
import { nowMs, peakRssMb, rssMb } from "../lib/timing.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";
import { threeSteps } from "../lib/workflows.js";

/** Start `n` runs in one go (no await between starts); resolve with per-run timings once all finished. */
async function burst(h: BenchEngine, prefix: string, n: number) {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const startedAt = new Float64Array(n);
  const allDone = h.finishes.waitForCount(`${prefix}-`, n);
  const t0 = nowMs();
  const starts = ids.map((runId, i) => {
    startedAt[i] = nowMs();
    return h.engine.startRun(threeSteps.name, i, { runId });
  });
  await Promise.all(starts);
  const acknowledgedMs = nowMs() - t0;
  await allDone;
  const wallMs = Math.max(...ids.map((id) => h.finishes.finishedAt.get(id)!)) - t0;
  h.finishes.assertCompleted(ids);
  const latencies = ids.map((id, i) => h.finishes.finishedAt.get(id)! - startedAt[i]);
  return { ids, wallMs, acknowledgedMs, latencies };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 200 : 2_000;
  const warmup = ctx.quick ? 50 : 200;
  const h = await openBenchEngine(ctx, [threeSteps]);
  try {
    await burst(h, "warm", warmup);
    await h.reset();
    ctx.log(`starting ${n} runs at once`);
    const { ids, wallMs, acknowledgedMs, latencies } = await burst(h, "tp", n);
    const rss = rssMb();
    assertNoEngineErrors(h);
    // Spot-check results through the store: the runs really completed with the right output.
    for (const i of [0, Math.floor(n / 2), n - 1]) {
      const rec = await h.store.getRun(ids[i]);
      if (rec?.status !== "completed" || rec.output !== i + 3) {
        throw new Error(`run ${ids[i]} ended ${rec?.status} with ${JSON.stringify(rec?.output)}`);
      }
    }
    const lat = summarize(latencies);
    const counts = await h.collect(n); // first: it adds the node processes' usage
    return {
      bench: "throughput",
      store: ctx.store,
      runs: n,
      throughput_wf_s: round(n / (wallMs / 1000), 1),
      p50_ms: lat.p50_ms,
      p95_ms: lat.p95_ms,
      p99_ms: lat.p99_ms,
      rss_mb: round(rss, 1),
      wall_ms: round(wallMs, 1),
      starts_acknowledged_ms: round(acknowledgedMs, 1),
      peak_rss_mb: round(peakRssMb(), 1),
      ...batcherPerRun(h.batcherSince(), n),
      ...storeUsagePerRun(h.usage, n, wallMs, ctx.store),
      ...counts,
    };
  } finally {
    await h.close();
  }
}

export const throughput: Benchmark = {
  name: "throughput",
  describe: "2,000 runs of a 3-step workflow started at once; completed runs per second",
  target: { field: "throughput_wf_s", op: ">=", value: 3_000, unit: "wf/s" },
  // 3x DBOS Transact's 322 wf/s, measured on the same PostgreSQL and machine.
  targetOn: { postgres: { field: "throughput_wf_s", op: ">=", value: 1_000, unit: "wf/s" } },
  run,
  explain: (r) =>
    (r.nodes ? `${r.nodes} node processes (runs each: ${(r.runs_per_node as number[]).join("/")}); ` : "") +
    (r.pg_round_trips_per_run !== undefined
      ? `${r.pg_round_trips_per_run} PostgreSQL round trips and ${r.pg_commits_per_run} commits/run; `
      : "") +
    `${r.store_txns_per_run} store txns/run (${r.batches_per_run} batches, ${r.writes_per_run} ops); ` +
    `store ${pct(r.store_time_share)} of wall; starts acked in ${r.starts_acknowledged_ms} ms; peak RSS ${r.peak_rss_mb} MB`,
};
