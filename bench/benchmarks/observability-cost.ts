/**
 * observability-cost: workflow throughput with metrics and tracing on against off.
 * Each configuration is an engine in a process of its own (bench/lib/observed-engine.ts), made once;
 * every round runs one burst on each, in turn (the order rotates and reverses from round to round), so
 * all see the same machine, and the cost is taken per round (on against the off of the same round:
 * slow drift on a shared machine cancels) and its median reported. "on" = Prometheus metrics
 * (createMetrics) and OpenTelemetry tracing (the default set-up: spans encoded as OTLP/HTTP protobuf
 * and sent from the tracing worker thread) to a sink in another process, every run traced, a burst
 * ending when its last span was exported (the queue is made large enough that none is dropped).
 * "off" and "on" run in four processes each (a round compares their means; two "off" against the
 * other two give the method's noise floor). Beside them: metrics alone, tracing 10% of runs (OTEL_TRACES_SAMPLER=traceidratio 0.1), and "on" plus structured logs (info, to
 * a file, buffered 4 KB). Besides throughput it reports CPU time per run: the whole process's, and on
 * Linux the engine thread's, the time it was runnable but waited for a CPU, and the other threads'.
 *
 *   npx tsx bench/benchmarks/observability-cost.ts [--quick] [--rounds N]
 *   npm run bench -- observability-cost
 */
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { BurstFigures, Mode, ObservedReply, ObservedSetup } from "../lib/observed-engine.js";
import { jsonLine, renderTable } from "../lib/report.js";
import { median, round } from "../lib/stats.js";
import { DEFAULT_PG_URL } from "../lib/store-factory.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";

const MODES: Mode[] = ["off", "metrics", "on", "on-sampled", "on+logs"];

/**
 * Processes per mode. Identical processes differ in speed for their whole life (by 6-14 % among six,
 * measured; where memory lands, what the JIT decided): "off" and "on", the headline pair, have four
 * each and a round compares their means, which halves a process's luck; two "off" against the other
 * two give the method's noise floor (a pair against a pair: noisier than four against four).
 */
const INSTANCES: Record<Mode, number> = { off: 4, metrics: 1, on: 4, "on-sampled": 1, "on+logs": 1 };

/** The share of runs traced in the "on-sampled" configuration. */
const SAMPLED_RATIO = 0.1;

/** Spans per run of the 3-step workflow: the run, its one claim, three attempts. */
const SPANS_PER_RUN = 5;

const OBSERVED_ENGINE = fileURLToPath(new URL("../lib/observed-engine.ts", import.meta.url));

/** A configuration's process, asked one thing at a time. */
class ObservedProcess {
  private readonly child: ChildProcess;
  /** Replies not asked for yet (the first, "ready", may come before anyone asks). */
  private readonly replies: ObservedReply[] = [];
  private waiting: ((reply: ObservedReply) => void) | undefined;
  private exited: Error | undefined;

  constructor(
    readonly mode: Mode,
    readonly instance: number,
    setup: ObservedSetup,
  ) {
    this.child = spawn(process.execPath, ["--import", "tsx", OBSERVED_ENGINE, JSON.stringify(setup)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child.on("message", (m: ObservedReply) => this.received(m));
    this.child.on("exit", (code) => {
      this.exited = new Error(`${mode}: the configuration's process exited with code ${code}`);
      this.received({ type: "error", message: this.exited.message });
    });
  }

  /** The next reply (the first one is "ready"), after sending `message` if given. */
  async ask(message?: { type: "burst"; n: number } | { type: "check" }): Promise<ObservedReply> {
    if (message) {
      if (this.exited) throw this.exited;
      this.child.send(message);
    }
    const m =
      this.replies.shift() ??
      (await new Promise<ObservedReply>((resolve) => {
        this.waiting = resolve;
      }));
    if (m.type === "error") throw new Error(m.message);
    return m;
  }

  private received(m: ObservedReply): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting(m);
    else this.replies.push(m);
  }

  async burst(n: number): Promise<BurstFigures> {
    const m = await this.ask({ type: "burst", n });
    if (m.type !== "burst") throw new Error(`${this.mode}: expected burst figures, got ${m.type}`);
    return m.figures;
  }

  /** Ends the process: it closes its engine when the channel closes. */
  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}

/**
 * Between bursts: a short pause, so that no burst pays for the background work (log writes, a
 * tracing export, concurrent marking) left by the configuration that ran before it.
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

interface Round extends BurstFigures {
  mode: Mode;
  instance: number;
  round: number;
}

/** Round `r`'s order: rotated by r and reversed every other round, so no configuration keeps a place. */
function orderOf<T>(items: T[], r: number): T[] {
  const k = r % items.length;
  const rotated = [...items.slice(k), ...items.slice(0, k)];
  return r % 2 === 0 ? rotated : rotated.reverse();
}

async function run(ctx: BenchContext, roundsWanted?: number): Promise<BenchResult> {
  // Bursts long enough that their end (the last spans' export, about 10 ms) weighs little: a burst
  // stands for a steady load, in which exports overlap the runs.
  const n = ctx.quick ? 200 : 5_000;
  const warmup = ctx.quick ? 100 : 1_000;
  const rounds = roundsWanted ?? (ctx.quick ? 3 : 10);
  const sink = await startSink();
  const processes: ObservedProcess[] = [];
  const results: Round[] = [];
  let spansPerRun: number | undefined;
  try {
    for (const mode of MODES) {
      for (let instance = 0; instance < INSTANCES[mode]; instance++) {
        const setup: ObservedSetup = {
          mode,
          instance,
          store: ctx.store,
          pgUrl: ctx.pgUrl,
          coldWal: ctx.coldWal,
          sinkUrl: sink.url,
          sampledRatio: SAMPLED_RATIO,
        };
        processes.push(new ObservedProcess(mode, instance, setup));
      }
    }
    for (const p of processes) await p.ask(); // "ready"
    for (const p of processes) await p.burst(warmup);
    for (let r = 0; r < rounds; r++) {
      const line: string[] = [];
      for (const p of orderOf(processes, r)) {
        await settle();
        const figures = await p.burst(n);
        results.push({ mode: p.mode, instance: p.instance, round: r, ...figures });
        line.push(`${p.mode}${p.instance ? ` #${p.instance + 1}` : ""} ${round(figures.wfPerS, 0)} wf/s`);
      }
      ctx.log(`round ${r + 1}/${rounds}: ${line.join(", ")}`);
    }
    for (const p of processes) {
      const m = await p.ask({ type: "check" });
      if (p.mode === "on" && m.type === "checked") spansPerRun = m.spansPerRun;
    }
  } finally {
    for (const p of processes) p.close();
    sink.child.kill();
  }
  const of = (mode: Mode) => results.filter((r) => r.mode === mode);
  /** A mode's figure in each round: the mean over its processes. */
  const perRound = (mode: Mode, figure: (r: Round) => number) =>
    Array.from({ length: rounds }, (_, i) => {
      const inRound = of(mode).filter((r) => r.round === i);
      return inRound.reduce((sum, r) => sum + figure(r), 0) / inRound.length;
    });
  const med = (mode: Mode) => median(perRound(mode, (r) => r.wfPerS));
  const cpu = (mode: Mode) => median(perRound(mode, (r) => r.cpuUsPerRun));
  // Per round, the cost of a configuration against "off" in the same round.
  const costsOf = (mode: Mode, figure: (r: Round) => number) => {
    const off = perRound("off", figure);
    return perRound(mode, figure).map((v, i) => 1 - v / off[i]);
  };
  const costs = (mode: Mode) => costsOf(mode, (r) => r.wfPerS);
  // The first half of the "off" processes against the second half, as "on" is compared with "off".
  const noiseFloor = round(
    median(
      Array.from({ length: rounds }, (_, i) => {
        const inRound = of("off").filter((r) => r.round === i);
        const half = inRound.length / 2;
        const mean = (rs: Round[]) => rs.reduce((sum, r) => sum + r.wfPerS, 0) / rs.length;
        return (
          1 - mean(inRound.filter((r) => r.instance >= half)) / mean(inRound.filter((r) => r.instance < half))
        );
      }),
    ),
  );
  const perThread = (mode: Mode, field: "mainCpuUsPerRun" | "mainWaitUsPerRun" | "otherCpuUsPerRun") =>
    results[0][field] === undefined ? null : round(median(perRound(mode, (r) => r[field]!)), 1);
  const threadFields: Record<string, number | null> = {};
  for (const mode of MODES) {
    const key = mode.replace(/\W/g, "_");
    threadFields[`engine_thread_cpu_us_per_run_${key}`] = perThread(mode, "mainCpuUsPerRun");
    threadFields[`engine_thread_wait_us_per_run_${key}`] = perThread(mode, "mainWaitUsPerRun");
    threadFields[`other_threads_cpu_us_per_run_${key}`] = perThread(mode, "otherCpuUsPerRun");
  }
  const cost = (mode: Mode) => round(median(costs(mode)));
  const costToFinish = (mode: Mode) => round(median(costsOf(mode, (r) => r.wfPerSToFinish)));
  return {
    bench: "observability-cost",
    store: ctx.store,
    runs: n,
    throughput_wf_s: round(med("on"), 1),
    p50_ms: null,
    p95_ms: null,
    p99_ms: null,
    rss_mb: round(median(perRound("on", (r) => r.rssMb)), 1),
    throughput_off_wf_s: round(med("off"), 1),
    throughput_on_wf_s: round(med("on"), 1),
    cost_ratio: cost("on"),
    cost_ratio_each_round: costs("on").map((c) => round(c)),
    cost_ratio_of_medians: round(1 - med("on") / med("off")),
    cost_ratio_to_last_finish: costToFinish("on"),
    cpu_us_per_run_off: round(cpu("off"), 1),
    cpu_us_per_run_on: round(cpu("on"), 1),
    cpu_cost_ratio: round(cpu("on") / cpu("off") - 1),
    ...threadFields,
    export_tail_ms_on: round(median(perRound("on", (r) => r.tailMs)), 1),
    cost_ratio_off_against_off: noiseFloor,
    cost_ratio_metrics_only: cost("metrics"),
    cost_ratio_sampled: cost("on-sampled"),
    cpu_cost_ratio_sampled: round(cpu("on-sampled") / cpu("off") - 1),
    sample_ratio_sampled: SAMPLED_RATIO,
    cost_ratio_with_logs: cost("on+logs"),
    cpu_cost_ratio_with_logs: round(cpu("on+logs") / cpu("off") - 1),
    rounds,
    spans_per_run_exported: round(spansPerRun ?? 0, 2),
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
    (r.engine_thread_cpu_us_per_run_off === null
      ? ""
      : `per run, engine thread on CPU / waiting for one / other threads on CPU (µs): ${MODES.map((m) => {
          const k = m.replace(/\W/g, "_");
          return `${m} ${r[`engine_thread_cpu_us_per_run_${k}`]}/${r[`engine_thread_wait_us_per_run_${k}`]}/${r[`other_threads_cpu_us_per_run_${k}`]}`;
        }).join(", ")}; `) +
    `last export ${r.export_tail_ms_on} ms after the last finish (cost counted to the last finish: ${r.cost_ratio_to_last_finish}); ` +
    `noise floor ("off" against itself): ${r.cost_ratio_off_against_off}; ` +
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
