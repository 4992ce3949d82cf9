/**
 * observability-cost: workflow throughput with metrics and tracing on against off, in one process,
 * rounds alternating so both see the same machine. "on" = Prometheus metrics (createMetrics) and
 * OpenTelemetry tracing (the default set-up, one per process as in a server: spans built, batched and exported as OTLP/HTTP protobuf in
 * the tracing worker thread) exporting to a sink in another process, every run traced, until
 * every span was exported (the queue is made large enough that none is dropped). Two
 * informative configurations more: tracing 10% of runs (OTEL_TRACES_SAMPLER=traceidratio 0.1), and
 * "on" plus the structured logs (info level, to a file, buffered 4 KB). Besides throughput (wall time, sensitive to
 * other load on a shared machine) it reports the CPU time of this process per run.
 *
 *   npx tsx bench/benchmarks/observability-cost.ts [--quick] [--rounds N]
 *   npm run bench -- observability-cost      (once bench/benchmarks/index.ts lists it)
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

type Mode = "off" | "on" | "on-sampled" | "on+logs";

/** The share of runs traced in the "on-sampled" configuration. */
const SAMPLED_RATIO = 0.1;

/** Spans per run of the 3-step workflow: the run, its one claim, three attempts. */
const SPANS_PER_RUN = 5;

/**
 * Start `n` runs at once; the wall time from the first start until the last finish and, with tracing,
 * until every span was exported (so the cost of encoding and sending them counts), and the CPU time.
 */
async function burst(
  h: BenchEngine,
  prefix: string,
  n: number,
  tracing?: DirigentTracing,
): Promise<{ wallMs: number; cpuMs: number; mainBusyMs: number }> {
  const done = h.finishes.waitForCount(`${prefix}-`, n);
  const cpu0 = process.cpuUsage();
  const elu0 = nodePerformance.eventLoopUtilization();
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: n }, (_, i) => h.engine.startRun(threeSteps.name, i, { runId: `${prefix}-${i}` })),
  );
  await done;
  await tracing?.forceFlush();
  const wallMs = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  const mainBusyMs = nodePerformance.eventLoopUtilization(elu0).active;
  h.finishes.assertCompleted(Array.from({ length: n }, (_, i) => `${prefix}-${i}`));
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, mainBusyMs };
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
  spansExported?: number;
}

/**
 * The tracings of the "on" modes, made once per process as a server makes one: its worker thread
 * starts once (about 0.4 s of CPU, loading the SDK and exporter), not once per round.
 */
interface Tracings {
  all: DirigentTracing;
  sampled: DirigentTracing;
}

function makeTracings(sinkUrl: string): Tracings {
  const make = (sampleRatio: number) =>
    createTracing({
      serviceName: "dirigent-bench",
      exporter: { url: sinkUrl, protocol: "http/protobuf" },
      sampleRatio,
      // The default queue (2,048 spans) drops spans in a burst of thousands of runs: the cost of
      // every span is what is measured here (docs/observability.md: OTEL_BSP_MAX_QUEUE_SIZE).
      batch: { maxQueueSize: 100_000 },
    });
  return { all: make(1), sampled: make(SAMPLED_RATIO) };
}

async function oneRound(
  ctx: BenchContext,
  mode: Mode,
  n: number,
  warmup: number,
  tracings: Tracings,
): Promise<Round> {
  const h = await openBenchEngine(ctx, [threeSteps]);
  const tracing = mode === "off" ? undefined : mode === "on-sampled" ? tracings.sampled : tracings.all;
  let detachTracing: (() => void) | undefined;
  const exportedBefore = tracing?.stats().exported ?? 0;
  const logDir = mkdtempSync(join(tmpdir(), "dirigent-bench-logs-"));
  let closeLogs: (() => void) | undefined;
  try {
    const metrics = mode === "off" ? undefined : createMetrics(h.engine);
    detachTracing = tracing?.attach(h.engine);
    if (mode === "on+logs") {
      const destination = pino.destination({
        dest: join(logDir, "engine.log"),
        sync: false,
        minLength: 4096,
      });
      attachLogging(h.engine, createLogger({ level: "info", destination }), { tracing });
      closeLogs = () => destination.flushSync();
    }
    await burst(h, "warm", warmup, tracing);
    const { wallMs, cpuMs, mainBusyMs } = await burst(h, "obs", n, tracing);
    assertNoEngineErrors(h);
    const spansExported = tracing ? tracing.stats().exported - exportedBefore : undefined;
    if (metrics) {
      // The metrics saw every run: a cheap check that "on" really measured something.
      const text = await metrics.metricsText();
      const finished = text.match(/^dirigent_runs_finished_total\{[^}]*status="completed"[^}]*\} (\d+)/m);
      if (Number(finished?.[1]) !== warmup + n)
        throw new Error(`metrics counted ${finished?.[1]} runs, expected ${warmup + n}`);
      metrics.close();
    }
    return {
      mode,
      wfPerS: n / (wallMs / 1000),
      cpuUsPerRun: (cpuMs * 1000) / n,
      mainBusyUsPerRun: (mainBusyMs * 1000) / n,
      spansExported,
    };
  } finally {
    closeLogs?.();
    detachTracing?.();
    await h.close();
    rmSync(logDir, { recursive: true, force: true });
  }
}

async function run(ctx: BenchContext, roundsWanted?: number): Promise<BenchResult> {
  const n = ctx.quick ? 200 : 2_000;
  const warmup = ctx.quick ? 50 : 1_000;
  const rounds = roundsWanted ?? (ctx.quick ? 2 : 5);
  const sink = await startSink();
  const tracings = makeTracings(sink.url);
  const results: Round[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so drift on a shared machine does not favour one mode.
      const modes: Mode[] = ["off", "on", "on-sampled", "on+logs"];
      const order = r % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const result = await oneRound(ctx, mode, n, warmup, tracings);
        results.push(result);
        ctx.log(
          `round ${r + 1}/${rounds} ${mode}: ${round(result.wfPerS, 1)} wf/s, ${round(result.cpuUsPerRun, 1)} µs CPU/run, ${round(result.mainBusyUsPerRun, 1)} µs engine thread/run`,
        );
      }
    }
  } finally {
    await tracings.all.shutdown();
    await tracings.sampled.shutdown();
    sink.child.kill();
  }
  const of = (mode: Mode) => results.filter((r) => r.mode === mode);
  const med = (mode: Mode) => median(of(mode).map((r) => r.wfPerS));
  const cpu = (mode: Mode) => median(of(mode).map((r) => r.cpuUsPerRun));
  const busy = (mode: Mode) => median(of(mode).map((r) => r.mainBusyUsPerRun));
  const off = med("off");
  const on = med("on");
  // Per round, the cost of "on" against the "off" of the same round.
  const perRound = of("on").map((r, i) => round(1 - r.wfPerS / of("off")[i].wfPerS));
  const spans = of("on").map((r) => r.spansExported ?? 0);
  return {
    bench: "observability-cost",
    store: ctx.store,
    runs: n,
    throughput_wf_s: round(on, 1),
    p50_ms: null,
    p95_ms: null,
    p99_ms: null,
    rss_mb: round(rssMb(), 1),
    throughput_off_wf_s: round(off, 1),
    throughput_on_wf_s: round(on, 1),
    cost_ratio: round(1 - on / off),
    cost_ratio_each_round: perRound,
    cpu_us_per_run_off: round(cpu("off"), 1),
    cpu_us_per_run_on: round(cpu("on"), 1),
    cpu_cost_ratio: round(cpu("on") / cpu("off") - 1),
    main_thread_busy_us_per_run_off: round(busy("off"), 1),
    main_thread_busy_us_per_run_on: round(busy("on"), 1),
    main_thread_cost_ratio: round(busy("on") / busy("off") - 1),
    throughput_sampled_wf_s: round(med("on-sampled"), 1),
    cost_ratio_sampled: round(1 - med("on-sampled") / off),
    cpu_cost_ratio_sampled: round(cpu("on-sampled") / cpu("off") - 1),
    sample_ratio_sampled: SAMPLED_RATIO,
    throughput_on_logs_wf_s: round(med("on+logs"), 1),
    cost_ratio_with_logs: round(1 - med("on+logs") / off),
    cpu_cost_ratio_with_logs: round(cpu("on+logs") / cpu("off") - 1),
    rounds,
    spans_per_run_exported: round(median(spans) / (warmup + n), 2),
    spans_per_run_expected: SPANS_PER_RUN,
  };
}

export const observabilityCost: Benchmark = {
  name: "observability-cost",
  describe: "3-step workflow throughput with metrics and tracing on vs off; cost = 1 - on/off",
  target: { field: "cost_ratio", op: "<=", value: 0.1, unit: "(10%)" },
  run: (ctx) => run(ctx),
  explain: (r) =>
    `off ${r.throughput_off_wf_s} wf/s, on ${r.throughput_on_wf_s} wf/s (cost each round ${(r.cost_ratio_each_round as number[]).join(" / ")}); ` +
    `CPU per run (all threads) ${r.cpu_us_per_run_off} → ${r.cpu_us_per_run_on} µs (+${r.cpu_cost_ratio}); ` +
    `engine thread busy per run ${r.main_thread_busy_us_per_run_off} → ${r.main_thread_busy_us_per_run_on} µs (+${r.main_thread_cost_ratio}); ` +
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
