import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { RUN_STATUSES, type RunStatus } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import { LabelLimiter } from "./bounded.js";
import { type CounterChild, FastCounter, FastHistogram, type HistogramChild } from "./fast-metrics.js";
import { observeHttpCalls } from "./http-calls.js";
import { collectSnapshot, type EngineSnapshot } from "./snapshot.js";

export interface MetricsOptions {
  /** Register into this registry (default: a new one). One engine's metrics per registry. */
  registry?: Registry;
  /** Also collect the standard `process_*` and `nodejs_*` metrics of prom-client (default false). */
  processMetrics?: boolean;
  /** A worker counts as connected if it polled within this window (default 30 s). */
  workerActiveWindowMs?: number;
  /** Distinct values per label (workflow, step, queue) before new ones become `_other` (default 500). */
  maxLabelValues?: number;
  /** Most waiting runs read per scrape to count pending timers (default 10,000). */
  maxTimerScan?: number;
  /** Count ctx.http calls by status through undici's diagnostics channels (default true). */
  observeHttp?: boolean;
}

/** What `createMetrics` returns. */
export interface DirigentMetrics {
  readonly registry: Registry;
  /** The Content-Type of `metricsText()` (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The exposition text for `/metrics`: the counters, plus gauges read from the store now. */
  metricsText(): Promise<string>;
  /** Stop listening to the engine (the registry keeps its values). */
  close(): void;
}

const RUN_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600, 14_400, 86_400];
const STEP_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const WAIT_BUCKETS_S = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3_600];
const HTTP_METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
/** A snapshot is reused by the gauges of one scrape (they collect in parallel) and for this long. */
const SNAPSHOT_TTL_MS = 1_000;

/**
 * Prometheus metrics of one engine, all named `dirigent_*` in base units (seconds) with `_total`
 * counters. Counters and histograms follow the engine's lifecycle events; gauges (runs by status,
 * queue depth, oldest task age, connected workers, pending timers) are read from the store at scrape
 * time. No run id is ever a label.
 *
 * @example
 * const metrics = createMetrics(engine, { processMetrics: true });
 * app.get("/metrics", async (_req, reply) =>
 *   reply.type(metrics.contentType).send(await metrics.metricsText()));
 */
export function createMetrics(engine: Engine, options: MetricsOptions = {}): DirigentMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const limit = options.maxLabelValues ?? 500;
  const workflowLabel = new LabelLimiter(limit);
  const stepLabel = new LabelLimiter(limit * 4);
  const queueLabel = new LabelLimiter(limit);
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  // The per-step hot path uses FastCounter/FastHistogram (no label hashing); the rest prom-client's own.
  const runsStarted = new FastCounter(
    "dirigent_runs_started_total",
    "Runs created, by workflow.",
    ["workflow"],
    registry,
  );
  const runsFinished = new FastCounter(
    "dirigent_runs_finished_total",
    "Runs that reached a final status (completed, failed, cancelled, terminated), by workflow and status.",
    ["workflow", "status"],
    registry,
  );
  const runDuration = new FastHistogram(
    "dirigent_run_duration_seconds",
    "Time from a run's creation to its final status, including its waits.",
    ["workflow", "status"],
    registry,
    RUN_BUCKETS_S,
  );
  const stepAttempts = new FastCounter(
    "dirigent_step_attempts_total",
    "Step attempts started (first attempts and retries), by workflow and step.",
    ["workflow", "step"],
    registry,
  );
  const stepRetries = new FastCounter(
    "dirigent_step_retries_total",
    "Failed step attempts that will be retried, by workflow and step.",
    ["workflow", "step"],
    registry,
  );
  const stepFailures = new FastCounter(
    "dirigent_step_failures_total",
    "Steps that failed for good (retries exhausted or a terminal error), by workflow and step.",
    ["workflow", "step"],
    registry,
  );
  const stepDuration = new FastHistogram(
    "dirigent_step_duration_seconds",
    "Duration of one step attempt, by workflow, step and outcome (completed, retried, failed).",
    ["workflow", "step", "outcome"],
    registry,
    STEP_BUCKETS_S,
  );
  const scheduleToStart = new Histogram({
    name: "dirigent_task_schedule_to_start_seconds",
    help: "Time a task waited in its queue, from ready to leased by a worker, by queue.",
    labelNames: ["queue"],
    buckets: WAIT_BUCKETS_S,
    registers,
  });
  const takeovers = new Counter({
    name: "dirigent_lease_takeovers_total",
    help: "Runs claimed by this node because their previous owner's lease ran out.",
    registers,
  });
  const httpCalls = new Counter({
    name: "dirigent_http_calls_total",
    help: 'HTTP calls made by step attempts (ctx.http), by method and status code ("error": no response).',
    labelNames: ["method", "status_code"],
    registers,
  });
  const leaseLosses = new Counter({
    name: "dirigent_lease_losses_total",
    help: "Runs this node stopped executing because it could not confirm its lease (self-fencing), by reason.",
    labelNames: ["reason"],
    registers,
  });
  const engineErrors = new Counter({
    name: "dirigent_engine_errors_total",
    help: "Errors the engine reported on its engine:error event (lost runs, failed claims, listener faults).",
    registers,
  });
  const scrapeErrors = new Counter({
    name: "dirigent_scrape_errors_total",
    help: "Scrapes whose store-backed gauges could not be read (the gauges are then left out).",
    registers,
  });

  // ---- gauges read at scrape time ------------------------------------------------------------------
  let snapshot: { at: number; promise: Promise<EngineSnapshot | undefined> } | undefined;
  const readSnapshot = () => {
    const now = performance.now();
    if (!snapshot || now - snapshot.at > SNAPSHOT_TTL_MS) {
      const promise = collectSnapshot(engine, {
        workerActiveWindowMs: options.workerActiveWindowMs ?? 30_000,
        maxTimerScan: options.maxTimerScan ?? 10_000,
      }).catch(() => {
        scrapeErrors.inc();
        return undefined;
      });
      snapshot = { at: now, promise };
    }
    return snapshot.promise;
  };
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge<string>, s: EngineSnapshot) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const s = await readSnapshot();
        this.reset();
        if (s) fill(this, s);
      },
    });
  gauge("dirigent_runs", "Runs in the store by status.", ["status"], (g, s) => {
    for (const status of RUN_STATUSES) g.set({ status }, s.runs[status]);
  });
  gauge("dirigent_queue_depth", "Tasks queued (not leased) by queue.", ["queue"], (g, s) => {
    for (const q of s.queues) g.set({ queue: queueLabel.value(q.queue) }, q.queued);
  });
  gauge("dirigent_queue_leased_tasks", "Tasks leased to workers by queue.", ["queue"], (g, s) => {
    for (const q of s.queues) g.set({ queue: queueLabel.value(q.queue) }, q.leased);
  });
  gauge(
    "dirigent_queue_oldest_task_age_seconds",
    "Age of the oldest task ready to run by queue (0 when none).",
    ["queue"],
    (g, s) => {
      for (const q of s.queues) g.set({ queue: queueLabel.value(q.queue) }, q.oldestQueuedAgeMs / 1000);
    },
  );
  gauge(
    "dirigent_workers_connected",
    "Workers that polled the queue within the activity window.",
    ["queue"],
    (g, s) => {
      for (const q of s.queues) g.set({ queue: queueLabel.value(q.queue) }, q.activeWorkers);
    },
  );
  gauge(
    "dirigent_timers_pending",
    "Durable wake-ups pending: waiting runs with a wake-up time (sleeps, retry backoffs, wait timeouts).",
    [],
    (g, s) => g.set(s.pendingTimers),
  );

  // ---- counters and histograms from events ---------------------------------------------------------
  // Every run and step updates a few series: their children are looked up once per workflow, status
  // and step (by the names as the events carry them, so no label key is built per event) and kept.
  // Nothing is kept per run: the events carry the workflow and the durations.
  const stepSeries = new Map<string, Map<string, StepSeries>>();
  const seriesOf = (workflow: string, step: string): StepSeries => {
    let byStep = stepSeries.get(workflow);
    if (!byStep) stepSeries.set(workflow, (byStep = new Map()));
    let series = byStep.get(step);
    if (!series) {
      series = newStepSeries(workflowLabel.value(workflow || "unknown"), stepLabel.value(step));
      byStep.set(step, series);
    }
    return series;
  };
  const runSeries = new Map<string, RunSeries>();
  const runSeriesOf = (workflow: string): RunSeries => {
    let series = runSeries.get(workflow);
    if (!series) {
      series = {
        workflow: workflowLabel.value(workflow || "unknown"),
        started: undefined,
        byStatus: new Map(),
      };
      runSeries.set(workflow, series);
    }
    return series;
  };
  /** The finished counter and duration histogram of a workflow's runs with this status. */
  const finishedOf = (workflow: string, status: RunStatus) => {
    const series = runSeriesOf(workflow);
    let children = series.byStatus.get(status);
    if (!children) {
      children = {
        finished: runsFinished.labels(series.workflow, status),
        duration: runDuration.labels(series.workflow, status),
      };
      series.byStatus.set(status, children);
    }
    return children;
  };
  /** Whether `<runId>:<seq>` (an Idempotency-Key) is an attempt in flight here. */
  const inFlight = (key: string | undefined) => {
    const at = key ? key.lastIndexOf(":") : -1;
    if (at <= 0) return false;
    const seq = Number(key!.slice(at + 1));
    return engine.inFlight(key!.slice(0, at))?.attempts.some((a) => a.seq === seq) === true;
  };

  const observeRunDuration = (runId: string, duration: HistogramChild, durationMs?: number) => {
    if (durationMs !== undefined) {
      duration.observe(durationMs / 1000);
      return;
    }
    // Created on another node (or before a restart): the store has the times.
    engine.store.getRun(runId).then(
      (run) => {
        if (run?.completedAt !== undefined) duration.observe((run.completedAt - run.createdAt) / 1000);
      },
      () => {},
    );
  };

  const off = [
    engine.events.on("run:created", ({ workflow }) => {
      const series = runSeriesOf(workflow);
      (series.started ??= runsStarted.labels(series.workflow)).inc();
    }),
    engine.events.on("run:claimed", (e) => {
      if (e.takeover) takeovers.inc();
    }),
    engine.events.on("run:finished", ({ runId, workflow, status, durationMs }) => {
      const { finished, duration } = finishedOf(workflow, status);
      finished.inc();
      observeRunDuration(runId, duration, durationMs);
    }),
    engine.events.on("step:started", ({ workflow, name }) => {
      const series = seriesOf(workflow, name);
      (series.attempts ??= stepAttempts.labels(series.workflow, series.step)).inc();
    }),
    engine.events.on("step:completed", ({ workflow, name, durationMs }) => {
      const series = seriesOf(workflow, name);
      (series.completed ??= stepDuration.labels(series.workflow, series.step, "completed")).observe(
        durationMs / 1000,
      );
    }),
    engine.events.on("step:retrying", ({ workflow, name, durationMs }) => {
      const series = seriesOf(workflow, name);
      (series.retries ??= stepRetries.labels(series.workflow, series.step)).inc();
      (series.retried ??= stepDuration.labels(series.workflow, series.step, "retried")).observe(
        durationMs / 1000,
      );
    }),
    engine.events.on("step:failed", ({ workflow, name, durationMs }) => {
      const series = seriesOf(workflow, name);
      (series.failures ??= stepFailures.labels(series.workflow, series.step)).inc();
      (series.failed ??= stepDuration.labels(series.workflow, series.step, "failed")).observe(
        durationMs / 1000,
      );
    }),
    engine.events.on("task:leased", ({ queue, availableAt, leasedAt }) => {
      scheduleToStart.observe({ queue: queueLabel.value(queue) }, Math.max(0, leasedAt - availableAt) / 1000);
    }),
    engine.events.on("run:lease-lost", ({ reason }) => leaseLosses.inc({ reason })),
    engine.events.on("engine:error", () => engineErrors.inc()),
  ];
  if (options.observeHttp !== false) {
    off.push(
      observeHttpCalls({
        onResponse(call, statusCode) {
          if (inFlight(call.idempotencyKey)) {
            httpCalls.inc({ method: methodLabel(call.method), status_code: String(statusCode) });
          }
        },
        onError(call) {
          if (inFlight(call.idempotencyKey)) {
            httpCalls.inc({ method: methodLabel(call.method), status_code: "error" });
          }
        },
      }),
    );
  }

  return {
    registry,
    contentType: registry.contentType,
    async metricsText() {
      snapshot = undefined; // every scrape reads the store afresh
      return registry.metrics();
    },
    close() {
      for (const fn of off.splice(0)) fn();
    },
  };
}

/** The series of one step of one workflow, each made when first updated (no empty series). */
interface StepSeries {
  workflow: string;
  step: string;
  attempts: CounterChild | undefined;
  retries: CounterChild | undefined;
  failures: CounterChild | undefined;
  completed: HistogramChild | undefined;
  retried: HistogramChild | undefined;
  failed: HistogramChild | undefined;
}

/** Every field present from the start: one object shape for all, so the hot path's lookups stay fast. */
function newStepSeries(workflow: string, step: string): StepSeries {
  const none = undefined;
  return {
    workflow,
    step,
    attempts: none,
    retries: none,
    failures: none,
    completed: none,
    retried: none,
    failed: none,
  };
}

/** The run series of one workflow: started, and finished and duration per status. */
interface RunSeries {
  workflow: string;
  started: CounterChild | undefined;
  byStatus: Map<string, { finished: CounterChild; duration: HistogramChild }>;
}

function methodLabel(method: string): string {
  return HTTP_METHODS.has(method) ? method : "OTHER";
}
