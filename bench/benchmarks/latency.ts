import { assertNoEngineErrors, type BenchEngine, openBenchEngine } from "../lib/harness.js";
import { median, pct, round, summarize } from "../lib/stats.js";
import { createBenchStore } from "../lib/store-factory.js";
import { batcherPerRun, storeUsagePerRun } from "../lib/store-meter.js";
import { nowMs, rssMb } from "../lib/timing.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";
import { threeSteps } from "../lib/workflows.js";

interface Marks {
  call: number;
  created?: number;
  steps: number[];
  finished?: number;
}

/** Runs one after another; each from the startRun call to its run:finished event. */
async function sequence(h: BenchEngine, prefix: string, n: number, marks?: Map<string, Marks>) {
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const runId = `${prefix}-${i}`;
    const done = h.finishes.waitFor(runId);
    const t0 = nowMs();
    marks?.set(runId, { call: t0, steps: [] });
    await h.engine.startRun(threeSteps.name, i, { runId });
    await done;
    samples[i] = h.finishes.finishedAt.get(runId)! - t0;
    h.finishes.assertCompleted([runId]);
  }
  return samples;
}

/**
 * The cost of one store transaction on its own (a createRun, committed alone), measured on a separate
 * fresh store in the same process: the floor under every durable step.
 */
async function singleCommitMs(ctx: BenchContext, n: number): Promise<number> {
  const bench = await createBenchStore(ctx.store, { pgUrl: ctx.pgUrl, coldWal: ctx.coldWal });
  try {
    await bench.store.migrate();
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const now = Date.now();
      const t0 = nowMs();
      await bench.store.write([
        {
          type: "createRun",
          run: { runId: `floor-${i}`, workflow: "w", version: "1", inputJson: null, now },
        },
      ]);
      samples.push(nowMs() - t0);
    }
    return median(samples);
  } finally {
    await bench.dispose();
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 50 : 200;
  const warmup = ctx.quick ? 10 : 30;
  const commitMs = await singleCommitMs(ctx, n);
  const h = await openBenchEngine(ctx, [threeSteps]);
  try {
    await sequence(h, "warm", warmup);
    await h.reset();
    // Where the time of one run goes: the moments of its lifecycle events.
    const marks = new Map<string, Marks>();
    const mark = (runId: string) => marks.get(runId);
    h.engine.events.on("run:created", ({ runId }) => {
      const m = mark(runId);
      if (m) m.created = nowMs();
    });
    h.engine.events.on("step:completed", ({ runId }) => mark(runId)?.steps.push(nowMs()));
    h.engine.events.on("run:finished", ({ runId }) => {
      const m = mark(runId);
      if (m) m.finished = nowMs();
    });
    ctx.log(`running ${n} runs one after another`);
    const t0 = nowMs();
    const samples = await sequence(h, "lat", n, marks);
    const wallMs = nowMs() - t0;
    assertNoEngineErrors(h);
    const phase = (from: (m: Marks) => number | undefined, to: (m: Marks) => number | undefined) =>
      round(median([...marks.values()].map((m) => to(m)! - from(m)!)));
    const lat = summarize(samples);
    const counts = await h.collect(n); // first: it adds the node processes' usage
    // With --nodes the steps run in other processes: their phases are not seen here.
    const phases = h.nodes
      ? null
      : {
          start_ack: phase(
            (m) => m.call,
            (m) => m.created,
          ),
          step_a: phase(
            (m) => m.created,
            (m) => m.steps[0],
          ),
          step_b: phase(
            (m) => m.steps[0],
            (m) => m.steps[1],
          ),
          step_c: phase(
            (m) => m.steps[1],
            (m) => m.steps[2],
          ),
          complete: phase(
            (m) => m.steps[2],
            (m) => m.finished,
          ),
        };
    return {
      bench: "latency",
      store: ctx.store,
      runs: n,
      throughput_wf_s: round(n / (wallMs / 1000), 1),
      p50_ms: lat.p50_ms,
      p95_ms: lat.p95_ms,
      p99_ms: lat.p99_ms,
      rss_mb: round(rssMb(), 1),
      max_ms: lat.max_ms,
      single_commit_ms: round(commitMs),
      phase_p50_ms: phases,
      ...batcherPerRun(h.batcherSince(), n),
      ...storeUsagePerRun(h.usage, n, wallMs, ctx.store),
      ...counts,
    };
  } finally {
    await h.close();
  }
}

export const latency: Benchmark = {
  name: "latency",
  describe: "200 runs of the 3-step workflow one after another; end-to-end latency percentiles",
  target: { field: "p50_ms", op: "<=", value: 2, unit: "ms" },
  // DBOS Transact: p50 7.2 ms on the same PostgreSQL and machine.
  targetOn: { postgres: { field: "p50_ms", op: "<=", value: 5, unit: "ms" } },
  run,
  explain: (r) => {
    const p = r.phase_p50_ms as Record<string, number> | null;
    return (
      (r.nodes ? `${r.nodes} node processes (runs each: ${(r.runs_per_node as number[]).join("/")}); ` : "") +
      `1 commit alone ${r.single_commit_ms} ms; ` +
      (r.pg_round_trips_per_run !== undefined
        ? `${r.pg_round_trips_per_run} PostgreSQL round trips and ${r.pg_commits_per_run} commits/run; `
        : "") +
      `${r.store_txns_per_run} store txns/run; store ${pct(r.store_time_share)} of wall` +
      (p
        ? `; p50 phases: start ${p.start_ack} + a ${p.step_a} + b ${p.step_b} + c ${p.step_c} + complete ${p.complete} ms`
        : "")
    );
  },
};
