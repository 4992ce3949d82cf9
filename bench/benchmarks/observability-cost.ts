/**
 * observability-cost: workflow throughput with metrics and tracing on against off, in one process.
 * Each configuration has its own engine (and store), made once; every round runs one burst on each, in
 * alternating order, so all see the same machine, and the cost is taken per round (on against the off
 * of the same round: slow drift on a shared machine cancels) and its median reported. "on" = Prometheus
 * metrics (createMetrics) and OpenTelemetry tracing (the default set-up, one per process as in a
 * server: spans encoded as OTLP/HTTP protobuf and sent from the tracing worker thread) to a sink in
 * another process, every run traced, a burst ending when its last span was exported (the queue is
 * made large enough that none is dropped). Informative configurations beside it: metrics alone,
 * tracing 10% of runs (OTEL_TRACES_SAMPLER=traceidratio 0.1), and "on" plus structured logs (info, to
 * a file, buffered 4 KB). Besides throughput it reports the CPU time of this process per run and the
 * engine thread's busy time per run.
 *
 *   npx tsx bench/benchmarks/observability-cost.ts [--quick] [--rounds N]
 *   npm run bench -- observability-cost
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance as nodePerformance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { attachLogging, createLogger } from "../../src/observability/logs.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTracing, type DirigentTracing } from "../../src/observability/tracing.js";
import { assertNoEngineErrors, type BenchEngine, openBenchEngine } from "../lib/harness.js";
import { jsonLine, renderTable } from "../lib/report.js";
import { median, round } from "../lib/stats.js";
import { DEFAULT_PG_URL } from "../lib/store-factory.js";
import { nowMs, rssMb } from "../lib/timing.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";
import { threeSteps } from "../lib/workflows.js";

type Mode = "off" | "metrics" | "on" | "on-sampled" | "on+logs";
const MODES: Mode[] = ["off", "metrics", "on", "on-sampled", "on+logs"];

/** The share of runs traced in the "on-sampled" configuration. */
const SAMPLED_RATIO = 0.1;

/** Spans per run of the 3-step workflow: the run, its one claim, three attempts. */
const SPANS_PER_RUN = 5;

/** One configuration: its engine, with what observes it attached for the whole benchmark. */
interface Setup {
  mode: Mode;
  h: BenchEngine;
  tracing?: DirigentTracing;
  metrics?: ReturnType<typeof createMetrics>;
  /** Runs started on it so far (run ids are `run-<n>`: each configuration has its own store). */
  started: number;
  close(): Promise<void>;
}

/**
 * Start `n` runs at once; the wall time from the first start until the last finish and, with tracing,
 * until every span was exported (so the cost of encoding and sending them counts), and the CPU time.
 */
async function burst(
  setup: Setup,
  n: number,
): Promise<{ wallMs: number; cpuMs: number; mainBusyMs: number; tailMs: number }> {
  const { h, tracing } = setup;
  const prefix = "run-";
  const from = setup.started;
  setup.started += n;
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);
  await settle();
  const done = h.finishes.waitForCount(prefix, setup.started);
  const cpu0 = process.cpuUsage();
  const elu0 = nodePerformance.eventLoopUtilization();
  const t0 = nowMs();
  await Promise.all(ids.map((runId, i) => h.engine.startRun(threeSteps.name, i, { runId })));
  await done;
  const finishedAt = nowMs();
  await tracing?.forceFlush();
  const wallMs = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  const mainBusyMs = nodePerformance.eventLoopUtilization(elu0).active;
  h.finishes.assertCompleted(ids);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, mainBusyMs, tailMs: t0 + wallMs - finishedAt };
}

/**
 * Between bursts: a short pause, so that no burst pays for the background work (log writes, a
 * tracing export, concurrent marking) left by the configuration that ran before it. (A full garbage
 * collection here made every burst start with a shrunken young generation: all ran far slower.)
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}

/** An OTLP sink in its own process: reads each export request and answers 200. */
async function startSink(): Promise<{ url: string; child: ChildProcess }> {
  const script = `
    const http = require("node:http");
    const server = http.createServer((req, res) => {
      req.on("data", () => {});
      req.on("end", () => { res.writeHead(200, { "content-type": "application/x-protobuf" }); res.end(); });
    });
    server.listen(0, "127.0.0.1", () => console.log(server.address().port));
    process.on("disconnect", () => process.exit(0));`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once("data", (d) => resolve(String(d).trim()));
    child.once("exit", (code) => reject(new Error(`OTLP sink exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/v1/traces`, child };
}

interface Round {
  mode: Mode;
  wfPerS: number;
  cpuUsPerRun: number;
  mainBusyUsPerRun: number;
  /** From the last run's finish to its spans' export (part of the wall time). */
  tailMs: number;
}

async function openSetup(ctx: BenchContext, mode: Mode, sinkUrl: string): Promise<Setup> {
  const h = await openBenchEngine(ctx, [threeSteps]);
  const tracing =
    mode === "off" || mode === "metrics"
      ? undefined
      : createTracing({
          serviceName: "dirigent-bench",
          exporter: { url: sinkUrl, protocol: "http/protobuf" },
          sampleRatio: mode === "on-sampled" ? SAMPLED_RATIO : 1,
          // The default queue (2,048 spans) drops spans in a burst of a thousand runs: the cost of
          // every span is what is measured here (docs/observability.md: OTEL_BSP_MAX_QUEUE_SIZE).
          batch: { maxQueueSize: 100_000 },
        });
  const metrics = mode === "off" ? undefined : createMetrics(h.engine);
  const detachTracing = tracing?.attach(h.engine);
  // Wait for the tracing worker to be up (it answers a flush): its start-up, about 0.4 s of CPU, must
  // not land in another configuration's burst.
  await tracing?.forceFlush();
  const logDir = mkdtempSync(join(tmpdir(), "dirigent-bench-logs-"));
  let closeLogs: (() => void) | undefined;
  if (mode === "on+logs") {
    const destination = pino.destination({ dest: join(logDir, "engine.log"), sync: false, minLength: 4096 });
    attachLogging(h.engine, createLogger({ level: "info", destination }), { tracing });
    closeLogs = () => destination.flushSync();
  }
  return {
    mode,
    h,
    tracing,
    metrics,
    started: 0,
    async close() {
      closeLogs?.();
      detachTracing?.();
      metrics?.close();
      await h.close();
      await tracing?.shutdown();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** The metrics saw every run and tracing exported every span: a check that "on" measured something. */
async function checkObserved(setup: Setup): Promise<{ spansPerRun?: number }> {
  assertNoEngineErrors(setup.h);
  if (setup.metrics) {
    const text = await setup.metrics.metricsText();
    const finished = text.match(/^dirigent_runs_finished_total\{[^}]*status="completed"[^}]*\} (\d+)/m);
    if (Number(finished?.[1]) !== setup.started)
      throw new Error(`${setup.mode}: metrics counted ${finished?.[1]} runs, expected ${setup.started}`);
  }
  if (!setup.tracing) return {};
  const stats = setup.tracing.stats();
  if (stats.dropped > 0 || stats.failed > 0)
    throw new Error(`${setup.mode}: spans dropped ${stats.dropped}, failed ${stats.failed}`);
  return { spansPerRun: stats.exported / setup.started };
}

async function run(ctx: BenchContext, roundsWanted?: number): Promise<BenchResult> {
  const n = ctx.quick ? 200 : 2_000;
  const warmup = ctx.quick ? 100 : 1_000;
  const rounds = roundsWanted ?? (ctx.quick ? 3 : 10);
  const sink = await startSink();
  const setups: Setup[] = [];
  const results: Round[] = [];
  let observed: { spansPerRun?: number } = {};
  try {
    for (const mode of MODES) setups.push(await openSetup(ctx, mode, sink.url));
    for (const setup of setups) await burst(setup, warmup);
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so drift on a shared machine does not favour one configuration.
      const order = r % 2 === 0 ? setups : [...setups].reverse();
      const line: string[] = [];
      for (const setup of order) {
        const { wallMs, cpuMs, mainBusyMs, tailMs } = await burst(setup, n);
        const result = {
          mode: setup.mode,
          wfPerS: n / (wallMs / 1000),
          cpuUsPerRun: (cpuMs * 1000) / n,
          mainBusyUsPerRun: (mainBusyMs * 1000) / n,
          tailMs,
        };
        results.push(result);
        line.push(`${setup.mode} ${round(result.wfPerS, 0)} wf/s`);
      }
      ctx.log(`round ${r + 1}/${rounds}: ${line.join(", ")}`);
    }
    observed = await checkObserved(setups.find((s) => s.mode === "on")!);
    for (const setup of setups) if (setup.mode !== "on") await checkObserved(setup);
  } finally {
    for (const setup of setups) await setup.close();
    sink.child.kill();
  }
  const of = (mode: Mode) => results.filter((r) => r.mode === mode);
  const med = (mode: Mode) => median(of(mode).map((r) => r.wfPerS));
  const cpu = (mode: Mode) => median(of(mode).map((r) => r.cpuUsPerRun));
  const busy = (mode: Mode) => median(of(mode).map((r) => r.mainBusyUsPerRun));
  // Per round, the cost of a configuration against the "off" burst of the same round.
  const costs = (mode: Mode) => of(mode).map((r, i) => 1 - r.wfPerS / of("off")[i].wfPerS);
  const cost = (mode: Mode) => round(median(costs(mode)));
  return {
    bench: "observability-cost",
    store: ctx.store,
    runs: n,
    throughput_wf_s: round(med("on"), 1),
    p50_ms: null,
    p95_ms: null,
    p99_ms: null,
    rss_mb: round(rssMb(), 1),
    throughput_off_wf_s: round(med("off"), 1),
    throughput_on_wf_s: round(med("on"), 1),
    cost_ratio: cost("on"),
    cost_ratio_each_round: costs("on").map((c) => round(c)),
    cost_ratio_of_medians: round(1 - med("on") / med("off")),
    cpu_us_per_run_off: round(cpu("off"), 1),
    cpu_us_per_run_on: round(cpu("on"), 1),
    cpu_cost_ratio: round(cpu("on") / cpu("off") - 1),
    main_thread_busy_us_per_run_off: round(busy("off"), 1),
    main_thread_busy_us_per_run_on: round(busy("on"), 1),
    main_thread_cost_ratio: round(busy("on") / busy("off") - 1),
    export_tail_ms_on: round(median(of("on").map((r) => r.tailMs)), 1),
    cost_ratio_metrics_only: cost("metrics"),
    cost_ratio_sampled: cost("on-sampled"),
    cpu_cost_ratio_sampled: round(cpu("on-sampled") / cpu("off") - 1),
    sample_ratio_sampled: SAMPLED_RATIO,
    cost_ratio_with_logs: cost("on+logs"),
    cpu_cost_ratio_with_logs: round(cpu("on+logs") / cpu("off") - 1),
    rounds,
    spans_per_run_exported: round(observed.spansPerRun ?? 0, 2),
    spans_per_run_expected: SPANS_PER_RUN,
  };
}

export const observabilityCost: Benchmark = {
  name: "observability-cost",
  describe: "3-step workflow throughput with metrics and tracing on vs off; cost = 1 - on/off",
  target: { field: "cost_ratio", op: "<=", value: 0.1, unit: "(10%)" },
  run: (ctx) => run(ctx),
  explain: (r) =>
    `off ${r.throughput_off_wf_s} wf/s, on ${r.throughput_on_wf_s} wf/s (cost each round ${(r.cost_ratio_each_round as number[]).join(" / ")}; of the medians ${r.cost_ratio_of_medians}); ` +
    `CPU per run (all threads) ${r.cpu_us_per_run_off} → ${r.cpu_us_per_run_on} µs (+${r.cpu_cost_ratio}); ` +
    `engine thread busy per run ${r.main_thread_busy_us_per_run_off} → ${r.main_thread_busy_us_per_run_on} µs (+${r.main_thread_cost_ratio}); ` +
    `last export ${r.export_tail_ms_on} ms after the last finish; ` +
    `metrics alone: cost ${r.cost_ratio_metrics_only}; ` +
    `${r.sample_ratio_sampled} of runs traced: cost ${r.cost_ratio_sampled} (CPU +${r.cpu_cost_ratio_sampled}); ` +
    `with info logs: cost ${r.cost_ratio_with_logs} (CPU +${r.cpu_cost_ratio_with_logs}); ` +
    `${r.spans_per_run_exported} of ${r.spans_per_run_expected} spans per run exported`,
};

// Standalone: `npx tsx bench/benchmarks/observability-cost.ts [--quick] [--rounds N]`.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: { quick: { type: "boolean", default: false }, rounds: { type: "string" } },
  });
  const ctx: BenchContext = {
    store: "sqlite",
    pgUrl: DEFAULT_PG_URL,
    quick: values.quick!,
    coldWal: false,
    log: (message) => process.stderr.write(`  [observability-cost] ${message}\n`),
  };
  const result = await run(ctx, values.rounds === undefined ? undefined : Number(values.rounds));
  result.load_1m = round(loadavg()[0], 2);
  const outcome = { bench: observabilityCost, results: [result], median: result };
  console.log(renderTable([outcome], 1));
  console.log(jsonLine(outcome, { repeat: 1, quick: ctx.quick, coldWal: false }));
}
