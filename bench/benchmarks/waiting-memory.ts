import { workflow } from "../../src/runtime/workflow.js";
import { assertNoEngineErrors, type BenchEngine, openBenchEngine } from "../lib/harness.js";
import { round } from "../lib/stats.js";
import { nowMs, settledRssMb, waitUntil } from "../lib/timing.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";

/** One step, then a durable wait for a signal: the shape of most long-lived business processes. */
const waitForGo = workflow("bench-wait-for-signal", async (ctx, n: number) => {
  const prepared = await ctx.step("prepare", () => n * 2);
  const go = await ctx.waitForSignal<number>("go");
  return prepared + go;
});

function heapUsedMb(): number {
  return process.memoryUsage().heapUsed / 1_048_576;
}

/** Start `n` runs at once and resolve when every one of them is durably waiting (suspended). */
async function startWaiting(h: BenchEngine, prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await Promise.all(ids.map((runId, i) => h.engine.startRun(waitForGo.name, i, { runId })));
  await waitUntil(
    `${n} runs waiting`,
    async () =>
      (await h.store.countRuns({ workflow: waitForGo.name })).waiting === n && h.engine.stats().active === 0,
    { intervalMs: 50 },
  );
  return ids;
}

/** Signal every run and check each completes with the value the signal carried. */
async function signalAll(h: BenchEngine, prefix: string, ids: string[]): Promise<void> {
  const allDone = h.finishes.waitForCount(`${prefix}-`, ids.length);
  await Promise.all(ids.map((runId, i) => h.engine.signal(runId, "go", i)));
  await allDone;
  h.finishes.assertCompleted(ids);
  for (const i of [0, Math.floor(ids.length / 2), ids.length - 1]) {
    const rec = await h.store.getRun(ids[i]);
    if (rec?.output !== i * 2 + i) throw new Error(`run ${ids[i]} returned ${JSON.stringify(rec?.output)}`);
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 1_000 : 10_000;
  const h = await openBenchEngine(ctx, [waitForGo]);
  try {
    const coldIdle = await settledRssMb();
    // Warm up the code paths once (wait, signal, resume), then clear the hot cache by signalling, so
    // the idle reading includes loaded and compiled code but no waiting runs.
    await signalAll(h, "warm", await startWaiting(h, "warm", 50));
    const idleRss = await settledRssMb();
    const idleHeap = heapUsedMb();

    ctx.log(`starting ${n} runs that wait for a signal`);
    const t0 = nowMs();
    const ids = await startWaiting(h, "wait", n);
    const toWaitingMs = nowMs() - t0;
    const waitingRss = await settledRssMb();
    const waitingHeap = heapUsedMb();
    const cached = h.engine.stats().cached;
    ctx.log(`all ${n} waiting; ${cached} kept hot in memory; signalling them all`);

    h.resetCounters();
    const t1 = nowMs();
    await signalAll(h, "wait", ids);
    const resumeMs = nowMs() - t1;
    // Runs resumed without the hot cache load their journal and replay it.
    const replayed = h.usage.get("loadJournal")?.calls ?? 0;
    assertNoEngineErrors(h);
    const overIdle = waitingRss - idleRss;
    return {
      bench: "waiting-memory",
      store: ctx.store,
      runs: n,
      throughput_wf_s: null,
      p50_ms: null,
      p95_ms: null,
      p99_ms: null,
      rss_mb: round(waitingRss, 1),
      rss_over_idle_mb: round(overIdle, 1),
      rss_idle_mb: round(idleRss, 1),
      rss_idle_cold_mb: round(coldIdle, 1),
      heap_over_idle_mb: round(waitingHeap - idleHeap, 1),
      kb_per_waiting_run: round((overIdle * 1024) / n, 2),
      cached_runs: cached,
      start_to_all_waiting_ms: round(toWaitingMs, 1),
      signal_to_all_completed_ms: round(resumeMs, 1),
      resume_wf_s: round(n / (resumeMs / 1000), 1),
      resumes_replayed: replayed,
    };
  } finally {
    await h.close();
  }
}

export const waitingMemory: Benchmark = {
  name: "waiting-memory",
  describe: "RSS over an idle engine with 10,000 runs waiting on a signal (then all signalled and checked)",
  target: { field: "rss_over_idle_mb", op: "<=", value: 50, unit: "MB" },
  run,
  explain: (r) =>
    `idle ${r.rss_idle_mb} MB (cold ${r.rss_idle_cold_mb}); ${r.kb_per_waiting_run} KB/waiting run; ` +
    `heap +${r.heap_over_idle_mb} MB; ${r.cached_runs} runs kept hot (maxCachedRuns); ` +
    `all signalled and completed in ${r.signal_to_all_completed_ms} ms (${r.resumes_replayed} replayed from the journal)`,
};
