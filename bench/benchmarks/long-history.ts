import { workflow } from "../../src/runtime/workflow.js";
import { assertNoEngineErrors, openBenchEngine } from "../lib/harness.js";
import { mean, median, round, summarize } from "../lib/stats.js";
import { nowMs, rssMb } from "../lib/timing.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";

/** Step durations of the current run, written by the workflow itself (one run at a time). */
let durations = new Float64Array(0);

/**
 * `steps` sequential trivial steps, each timed around `ctx.step`: the engine's cost of one step,
 * including its durable commit. The run never suspends, so no replay happens.
 */
const manySteps = workflow("bench-many-steps", async (ctx, steps: number) => {
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await ctx.step(`s${i + 1}`, () => i);
    durations[i] = performance.now() - t0;
  }
  return steps;
});

/** Durations of steps `from`..`to` (1-based, inclusive). */
function window(from: number, to: number): Float64Array {
  return durations.slice(from - 1, to);
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const lateStep = ctx.quick ? 1_000 : 10_000;
  const steps = lateStep + 10;
  const h = await openBenchEngine(ctx, [manySteps]);
  try {
    // A warm-up run first, so the early window is slowed neither by code still being compiled nor by
    // SQLite's write-ahead log still growing (until its first checkpoint, at 1,000 pages, every commit
    // extends the file, which makes its fsync slower; afterwards the log is reused in place).
    const warmSteps = ctx.quick ? 300 : 1_500;
    durations = new Float64Array(warmSteps);
    const warm = h.finishes.waitFor("warm-1");
    await h.engine.startRun(manySteps.name, warmSteps, { runId: "warm-1" });
    await warm;
    h.resetCounters();

    ctx.log(`one run of ${steps} sequential steps`);
    durations = new Float64Array(steps);
    const done = h.finishes.waitFor("long-1");
    const t0 = nowMs();
    await h.engine.startRun(manySteps.name, steps, { runId: "long-1" });
    await done;
    const wallMs = nowMs() - t0;
    h.finishes.assertCompleted(["long-1"]);
    assertNoEngineErrors(h);
    const rss = rssMb();

    const early = window(90, 110);
    const late = window(lateStep - 10, lateStep + 10);
    const all = summarize(durations);
    // The same comparison over wide windows: every step of the first and the last thousand.
    const bucket = Math.min(1_000, Math.floor(steps / 10));
    const t1 = nowMs();
    const journal = await h.store.loadJournal("long-1");
    const loadMs = nowMs() - t1;
    if (journal.length !== steps) throw new Error(`journal has ${journal.length} entries, expected ${steps}`);
    return {
      bench: "long-history",
      store: ctx.store,
      runs: 1,
      throughput_wf_s: null,
      p50_ms: all.p50_ms,
      p95_ms: all.p95_ms,
      p99_ms: all.p99_ms,
      rss_mb: round(rss, 1),
      step_cost_ratio: round(median(late) / median(early)),
      early_step_ms: round(median(early)),
      late_step_ms: round(median(late)),
      step_cost_ratio_by_mean: round(mean(late) / mean(early)),
      step_cost_ratio_wide: round(
        median(durations.slice(steps - bucket)) / median(durations.slice(0, bucket)),
      ),
      wide_window_steps: bucket,
      // The trend over the whole run: median step cost of each tenth of it.
      tenths_p50_ms: Array.from({ length: 10 }, (_, k) =>
        round(median(durations.slice(Math.floor((k * steps) / 10), Math.floor(((k + 1) * steps) / 10)))),
      ),
      steps,
      steps_per_s: round(steps / (wallMs / 1000), 1),
      load_journal_ms: round(loadMs, 1),
    };
  } finally {
    await h.close();
  }
}

export const longHistory: Benchmark = {
  name: "long-history",
  describe: "one run of 10,010 sequential steps; median step cost at steps 9,990-10,010 over steps 90-110",
  target: { field: "step_cost_ratio", op: "<=", value: 2, unit: "x" },
  run,
  explain: (r) =>
    `step ${r.early_step_ms} ms at ~100 vs ${r.late_step_ms} ms at ~${(r.steps as number) - 10}; ` +
    `ratio by mean ${r.step_cost_ratio_by_mean}, first vs last ${r.wide_window_steps} steps ${r.step_cost_ratio_wide}; ` +
    `${r.steps_per_s} steps/s; journal load ${r.load_journal_ms} ms`,
};
