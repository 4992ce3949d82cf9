/**
 * worker-throughput: tasks per second through the HTTP worker protocol, and poll-to-complete latency.
 *
 * This file is also the worker process it spawns (`--worker <url> <queue> <concurrency>`): createWorker
 * of src/client/worker.ts, nothing else, with a handler that returns at once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { LocalClient } from "../../src/client/local-client.js";
import { createWorker } from "../../src/client/worker.js";
import { workflow } from "../../src/runtime/workflow.js";
import { buildServer } from "../../src/server/app.js";
import { assertNoEngineErrors, openBenchEngine } from "../lib/harness.js";
import { pct, round, summarize } from "../lib/stats.js";
import { storeUsagePerRun } from "../lib/store-meter.js";
import { nowMs, rssMb, waitUntil } from "../lib/timing.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const QUEUE = "bench-tasks";
/** Handlers at once per worker process (createWorker's concurrency: that many poll loops). */
const CONCURRENCY = 8;

/** One task handed to a remote worker: the smallest workflow that exercises the protocol. */
const oneTask = workflow("bench-one-task", async (ctx, n: number) =>
  ctx.task<{ n: number }>("work", { queue: QUEUE, input: n, startToCloseMs: 60_000 }),
);

interface PhaseFigures {
  workers: number;
  tasks: number;
  tasks_s: number;
  /** Runs finished per second (the run resumes and completes after its task). */
  wf_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Poll requests per task (more than 1: polls that found nothing, e.g. at the end). */
  polls_per_task: number;
  /** CPU time of the server process (engine, store, HTTP) over the wall time: 1 = one core busy. */
  server_cpu_cores: number;
  /** CPU time of all worker processes together over the wall time. */
  workers_cpu_cores: number;
  store_time_share: number | null;
  /** Time in leaseTasks (one write transaction per poll, not group-committed) over the wall time. */
  lease_time_share: number;
  store_txns_per_task: number;
  /** Calls and time of each store method during the phase (leaseTasks is one transaction per poll). */
  store_calls: Record<string, { calls: number; ms: number }>;
}

/**
 * Marks taken inside the server by fastify hooks (cheap: a timestamp and a map entry per request):
 * when the poll that leased a task arrived, and when its completion was answered.
 */
class ProtocolMeter {
  readonly leasedAt = new Map<string, number>();
  readonly latencies: number[] = [];
  polls = 0;
  completes = 0;
  lastCompleteAt = 0;

  reset(): void {
    this.leasedAt.clear();
    this.latencies.length = 0;
    this.polls = 0;
    this.completes = 0;
    this.lastCompleteAt = 0;
  }
}

/** The API server over a fresh bench engine, with the meter's hooks, listening on a free port. */
async function openServer(ctx: BenchContext) {
  const h = await openBenchEngine(ctx, [oneTask]);
  const app = buildServer({ client: new LocalClient(h.engine), engine: h.engine, dashboardDir: false });
  const meter = new ProtocolMeter();
  const t0s = new WeakMap<object, number>();
  app.addHook("onRequest", (request, _reply, done) => {
    if (request.url.endsWith("/poll")) t0s.set(request, nowMs());
    done();
  });
  app.addHook("onSend", (request, _reply, payload, done) => {
    const t0 = t0s.get(request);
    if (t0 !== undefined && typeof payload === "string") {
      meter.polls++;
      for (const m of payload.matchAll(/"taskId":"([^"\\]*)"/g)) meter.leasedAt.set(m[1], t0);
    }
    done(null, payload);
  });
  app.addHook("onResponse", (request, reply, done) => {
    if (reply.statusCode === 200 && request.url.endsWith("/complete")) {
      const now = nowMs();
      const taskId = decodeURIComponent(request.url.split("/")[4] ?? "");
      const t0 = meter.leasedAt.get(taskId);
      if (t0 !== undefined) meter.latencies.push(now - t0);
      meter.completes++;
      meter.lastCompleteAt = now;
    }
    done();
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    h,
    url,
    meter,
    async close() {
      await app.close();
      await h.close();
    },
  };
}

/** A worker process; resolves once it has loaded and waits for "go" on stdin. */
class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly lines: Record<string, any>[] = [];
  private readonly waiters: { event: string; resolve: (line: any) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(url: string) {
    this.child = spawn(
      process.execPath,
      ["--import", "tsx", THIS_FILE, "--worker", url, QUEUE, String(CONCURRENCY)],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    let buffer = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!text.startsWith("{")) continue;
        const line = JSON.parse(text) as Record<string, any>;
        this.lines.push(line);
        for (const w of this.waiters.filter((x) => x.event === line.event)) w.resolve(line);
      }
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  waitFor(event: string): Promise<any> {
    const seen = this.lines.find((l) => l.event === event);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ event, resolve }));
  }

  go(): void {
    this.child.stdin!.write("go\n");
  }

  /** SIGTERM: the worker stops polling, reports its counts and CPU time since "go", and exits. */
  async stop(): Promise<{ completed: number; failed: number; lost: number; cpuMs: number }> {
    this.child.kill("SIGTERM");
    const line = await Promise.race([
      this.waitFor("stopped"),
      this.exited.then((code) => {
        throw new Error(`worker exited with code ${code} before reporting`);
      }),
    ]);
    await this.exited;
    return { ...line.stats, cpuMs: line.cpuMs };
  }
}

/** Queue `n` tasks (each the one task of a run), then let `workers` processes drain the queue. */
async function phase(ctx: BenchContext, workers: number, n: number, label: string): Promise<PhaseFigures> {
  const server = await openServer(ctx);
  const procs: WorkerProcess[] = [];
  try {
    const { h, meter } = server;
    const ids = Array.from({ length: n }, (_, i) => `${label}-${i}`);
    await Promise.all(ids.map((runId, i) => h.engine.startRun(oneTask.name, i, { runId })));
    const queued = async () => (await h.engine.tasks.list()).find((q) => q.queue === QUEUE)?.queued ?? 0;
    await waitUntil(`${n} tasks queued`, async () => (await queued()) === n, { intervalMs: 20 });
    await waitUntil(`${n} runs waiting`, () => h.engine.stats().active === 0, { intervalMs: 20 });
    for (let i = 0; i < workers; i++) procs.push(new WorkerProcess(server.url));
    await Promise.all(procs.map((p) => p.waitFor("ready")));

    h.resetCounters();
    meter.reset();
    const allDone = h.finishes.waitForCount(`${label}-`, n);
    const cpu0 = process.cpuUsage();
    const t0 = nowMs();
    for (const p of procs) p.go();
    await allDone;
    const finishedAt = nowMs();
    const cpu = process.cpuUsage(cpu0);
    const stats = await Promise.all(procs.map((p) => p.stop()));
    procs.length = 0;

    assertNoEngineErrors(h);
    h.finishes.assertCompleted(ids);
    for (const i of [0, Math.floor(n / 2), n - 1]) {
      const run = await h.store.getRun(ids[i]);
      if ((run?.output as { n?: number })?.n !== i) {
        throw new Error(`run ${ids[i]} returned ${JSON.stringify(run?.output)}`);
      }
    }
    const completed = stats.reduce((s, x) => s + x.completed, 0);
    const lost = stats.reduce((s, x) => s + x.lost + x.failed, 0);
    if (completed !== n || lost !== 0 || meter.latencies.length !== n) {
      throw new Error(
        `workers completed ${completed} of ${n} (${lost} lost or failed), ${meter.latencies.length} timed`,
      );
    }
    const wallMs = meter.lastCompleteAt - t0;
    const lat = summarize(meter.latencies);
    const usage = storeUsagePerRun(h.usage, n, finishedAt - t0, ctx.store);
    const figures: PhaseFigures = {
      workers,
      tasks: n,
      tasks_s: round(n / (wallMs / 1000), 1),
      wf_s: round(n / ((finishedAt - t0) / 1000), 1),
      p50_ms: lat.p50_ms,
      p95_ms: lat.p95_ms,
      p99_ms: lat.p99_ms,
      max_ms: lat.max_ms,
      polls_per_task: round(meter.polls / n),
      server_cpu_cores: round((cpu.user + cpu.system) / 1000 / (finishedAt - t0), 2),
      workers_cpu_cores: round(stats.reduce((s, x) => s + x.cpuMs, 0) / (finishedAt - t0), 2),
      store_time_share: usage.store_time_share,
      lease_time_share: round((usage.store_calls.leaseTasks?.ms ?? 0) / (finishedAt - t0)),
      store_txns_per_task: usage.store_txns_per_run,
      store_calls: usage.store_calls,
    };
    ctx.log(
      `${workers} worker(s) x ${CONCURRENCY}: ${figures.tasks_s} tasks/s, p50 ${figures.p50_ms} ms, p99 ${figures.p99_ms} ms`,
    );
    return figures;
  } finally {
    await Promise.allSettled(procs.map((p) => p.stop()));
    await server.close();
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 500 : 5_000;
  ctx.log(`warm-up: 300 tasks, 1 worker`);
  await phase(ctx, 1, 300, "warm");
  const one = await phase(ctx, 1, n, "w1");
  const four = await phase(ctx, 4, n, "w4");
  return {
    bench: "worker-throughput",
    store: ctx.store,
    runs: n,
    throughput_wf_s: four.wf_s,
    p50_ms: four.p50_ms,
    p95_ms: four.p95_ms,
    p99_ms: four.p99_ms,
    rss_mb: round(rssMb(), 1),
    tasks_s: four.tasks_s,
    workers: four.workers,
    concurrency_per_worker: CONCURRENCY,
    workers_4: { ...four },
    workers_1: { ...one },
  };
}

export const workerThroughput: Benchmark = {
  name: "worker-throughput",
  describe: "5,000 queued tasks drained over HTTP by 1 and by 4 worker processes; tasks/s, poll-to-complete",
  target: { field: "tasks_s", op: ">=", value: 1_500, unit: "tasks/s" },
  run,
  explain: (r) => {
    const f = (p: PhaseFigures) =>
      `${p.workers}w ${p.tasks_s} tasks/s p50 ${p.p50_ms} p99 ${p.p99_ms} ms, CPU server ${p.server_cpu_cores} + workers ${p.workers_cpu_cores} cores, store ${pct(p.store_time_share)} of wall (leases ${pct(p.lease_time_share)}), ${p.store_txns_per_task} txns and ${p.polls_per_task} polls per task`;
    return `${f(r.workers_4 as PhaseFigures)}; ${f(r.workers_1 as PhaseFigures)}`;
  },
};

// ---- the worker process ------------------------------------------------------------------------------

async function workerMain(args: string[]): Promise<void> {
  const [url, queue, concurrency] = args;
  // createWorker hangs an abort listener per poll and per task on one signal: over node's warning
  // threshold of 10 at concurrency 8 (harmless, but it would print a warning).
  setMaxListeners(100);
  const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
  say({ event: "ready" });
  // Start polling only when told, so every process begins together.
  await new Promise<void>((resolve) => {
    process.stdin.once("data", () => resolve());
  });
  process.stdin.pause();
  const cpu0 = process.cpuUsage();
  const worker = createWorker<number, { n: number }>({
    url,
    queue,
    concurrency: Number(concurrency),
    handler: (task) => ({ n: task.input }),
    onError: (error) => process.stderr.write(`worker error: ${String(error)}\n`),
  });
  process.once("SIGTERM", () => {
    const cpu = process.cpuUsage(cpu0);
    void worker.stop().then(() => {
      say({ event: "stopped", stats: worker.stats, cpuMs: (cpu.user + cpu.system) / 1000 });
      process.exit(0);
    });
  });
}

if (process.argv[1] === THIS_FILE && process.argv[2] === "--worker") {
  void workerMain(process.argv.slice(3));
}
