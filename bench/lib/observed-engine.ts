/**
 * One configuration of the observability-cost benchmark in a process of its own: an engine with what
 * observes it (nothing, metrics, metrics and tracing, ...), running bursts of runs when the parent asks.
 * A process per configuration, as in production (one engine per process), so no configuration pays for
 * another's garbage: with all engines in one heap, two engines set up alike differed by up to 18 % in
 * throughput, depending on where their bursts fell among the others'.
 *
 *   started by observability-cost.ts: node --import tsx bench/lib/observed-engine.ts '<json Setup>'
 * Messages (IPC): parent → { type: "burst", n } | { type: "check" }; child → ObservedReply.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { attachLogging, createLogger } from "../../src/observability/logs.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTracing } from "../../src/observability/tracing.js";
import { assertNoEngineErrors, openBenchEngine } from "./harness.js";
import type { StoreKind } from "./store-factory.js";
import { threadTimes, threadTimesSince } from "./thread-times.js";
import { nowMs, rssMb } from "./timing.js";
import { threeSteps } from "./workflows.js";

/** What observes the engine. */
export type Mode = "off" | "metrics" | "on" | "on-sampled" | "on+logs";

export interface ObservedSetup {
  mode: Mode;
  /** Which of the processes of this mode (two of "off" and of "on"), for messages. */
  instance: number;
  store: StoreKind;
  pgUrl: string;
  coldWal: boolean;
  sinkUrl: string;
  /** The share of runs traced in "on-sampled". */
  sampledRatio: number;
}

/** One burst's figures, per run where it says so. */
export interface BurstFigures {
  /** Runs per second, from the first start until every span was exported (traced configurations). */
  wfPerS: number;
  /** Runs per second until the last run finished (the spans' export may go on after it). */
  wfPerSToFinish: number;
  /** CPU time of the whole process (every thread). */
  cpuUsPerRun: number;
  /** Linux only (schedstat): the engine's thread on a CPU, runnable but waiting, and other threads on a CPU. */
  mainCpuUsPerRun?: number;
  mainWaitUsPerRun?: number;
  otherCpuUsPerRun?: number;
  /** From the last run's finish to its spans' export (part of the wall time). */
  tailMs: number;
  /** Resident set size of the process after the burst, MiB. */
  rssMb: number;
}

export type ObservedReply =
  | { type: "ready" }
  | { type: "burst"; figures: BurstFigures }
  | { type: "checked"; spansPerRun?: number }
  | { type: "error"; message: string };

const setup = JSON.parse(process.argv[2]!) as ObservedSetup;
const reply = (m: ObservedReply) => process.send!(m);

const h = await openBenchEngine(
  { store: setup.store, pgUrl: setup.pgUrl, quick: false, coldWal: setup.coldWal, log: () => {} },
  [threeSteps],
);
const traced = setup.mode === "on" || setup.mode === "on-sampled" || setup.mode === "on+logs";
const tracing = traced
  ? createTracing({
      serviceName: "dirigent-bench",
      exporter: { url: setup.sinkUrl, protocol: "http/protobuf" },
      sampleRatio: setup.mode === "on-sampled" ? setup.sampledRatio : 1,
      // The default queue (2,048 spans) drops spans in a burst of a thousand runs: the cost of every
      // span is what is measured here (docs/observability.md: OTEL_BSP_MAX_QUEUE_SIZE).
      batch: { maxQueueSize: 100_000 },
    })
  : undefined;
const metrics = setup.mode === "off" ? undefined : createMetrics(h.engine);
tracing?.attach(h.engine);
// The tracing worker is up once it answers a flush: its start-up is not part of any burst.
await tracing?.forceFlush();
const logDir = mkdtempSync(join(tmpdir(), "dirigent-bench-logs-"));
const logFile =
  setup.mode === "on+logs"
    ? pino.destination({ dest: join(logDir, "engine.log"), sync: false, minLength: 4096 })
    : undefined;
if (logFile) attachLogging(h.engine, createLogger({ level: "info", destination: logFile }), { tracing });
let started = 0;

/**
 * Start `n` runs at once; the wall time from the first start until the last finish and, with tracing,
 * until every span was exported (so encoding and sending them counts), and the CPU time it took.
 */
async function burst(n: number): Promise<BurstFigures> {
  const prefix = "run-";
  const from = started;
  started += n;
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);
  const done = h.finishes.waitForCount(prefix, started);
  const cpu0 = process.cpuUsage();
  const threads0 = threadTimes();
  const t0 = nowMs();
  await Promise.all(ids.map((runId, i) => h.engine.startRun(threeSteps.name, i, { runId })));
  await done;
  const finishedAt = nowMs();
  await tracing?.forceFlush();
  const wallMs = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  const threads = threadTimesSince(threads0);
  h.finishes.assertCompleted(ids);
  return {
    wfPerS: n / (wallMs / 1000),
    wfPerSToFinish: n / ((finishedAt - t0) / 1000),
    cpuUsPerRun: (cpu.user + cpu.system) / n,
    mainCpuUsPerRun: threads && threads.mainRunNs / 1000 / n,
    mainWaitUsPerRun: threads && threads.mainWaitNs / 1000 / n,
    otherCpuUsPerRun: threads && threads.otherRunNs / 1000 / n,
    tailMs: t0 + wallMs - finishedAt,
    rssMb: rssMb(),
  };
}

/** The metrics saw every run and tracing exported every span: a check that "on" measured something. */
async function check(): Promise<number | undefined> {
  assertNoEngineErrors(h);
  if (metrics) {
    const text = await metrics.metricsText();
    const finished = text.match(/^dirigent_runs_finished_total\{[^}]*status="completed"[^}]*\} (\d+)/m);
    if (Number(finished?.[1]) !== started)
      throw new Error(`${setup.mode}: metrics counted ${finished?.[1]} runs, expected ${started}`);
  }
  if (!tracing) return undefined;
  const stats = tracing.stats();
  if (stats.dropped > 0 || stats.failed > 0)
    throw new Error(`${setup.mode}: spans dropped ${stats.dropped}, failed ${stats.failed}`);
  return stats.exported / started;
}

async function close(): Promise<void> {
  logFile?.flushSync();
  metrics?.close();
  await h.close();
  await tracing?.shutdown();
  rmSync(logDir, { recursive: true, force: true });
}

process.on("message", (m: { type: "burst"; n: number } | { type: "check" }) => {
  const work =
    m.type === "burst"
      ? burst(m.n).then((figures) => reply({ type: "burst", figures }))
      : check().then((spansPerRun) => reply({ type: "checked", spansPerRun }));
  work.catch((error: Error) =>
    reply({ type: "error", message: `${setup.mode} #${setup.instance}: ${error.stack ?? error}` }),
  );
});
// The parent going away (its end, or its crash) ends this process, after closing the engine.
process.on("disconnect", () => {
  close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
reply({ type: "ready" });
