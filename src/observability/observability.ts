import { Counter, type Registry } from "prom-client";
import type { Engine } from "../runtime/engine.js";
import { createAlerts, type DirigentAlerts } from "./alerts/alerts.js";
import type { AlertsConfig } from "./alerts/rules.js";
import { attachLogging, type Logger } from "./logs.js";
import { createMetrics, type DirigentMetrics, type MetricsOptions } from "./metrics.js";
import type { DirigentTracing, TracingStats } from "./tracing.js";

export interface ObservabilityOptions {
  /** Prometheus metrics (default on); `false` for none. */
  metrics?: MetricsOptions | false;
  /**
   * A tracing from `createTracing`, created before the engine so that `tracing.traceparentFor` can be
   * its `traceparent` option (calls and tasks then carry the run's trace).
   */
  tracing?: DirigentTracing;
  /** Log the engine's events to this logger (from `createLogger`). */
  logger?: Logger;
  /** Alert rules and webhooks; evaluation starts at once. */
  alerts?: AlertsConfig;
}

export interface Observability {
  metrics?: DirigentMetrics;
  tracing?: DirigentTracing;
  alerts?: DirigentAlerts;
  /** Detach everything, stop alerts, end and export open spans. Call after `engine.stop()`. */
  close(): Promise<void>;
}

/**
 * Wire metrics, tracing, logs and alerts to one engine, in the order that matters: tracing first, so
 * log lines of a step find its span. The server exposes `metrics.metricsText()` at `/metrics` and
 * `alerts.list()` in its API.
 *
 * @example
 * const tracing = createTracing(tracingOptionsFromEnv(process.env) ?? {});
 * const engine = createEngine({ store, workflows, traceparent: tracing.traceparentFor });
 * const obs = attachObservability(engine, { tracing, logger: createLogger(), alerts: config.alerts });
 * await engine.start();
 * // ... shutdown:
 * await engine.stop();
 * await obs.close();
 */
export function attachObservability(engine: Engine, options: ObservabilityOptions = {}): Observability {
  const detachTracing = options.tracing?.attach(engine);
  const detachLogs = options.logger
    ? attachLogging(engine, options.logger, { tracing: options.tracing })
    : undefined;
  const metrics = options.metrics === false ? undefined : createMetrics(engine, options.metrics ?? {});
  const registry: Registry | undefined = metrics?.registry;
  if (registry && options.tracing?.enabled) registerTracingCounts(registry, options.tracing);
  const alerts = options.alerts ? createAlerts(engine, options.alerts, { registry }) : undefined;
  alerts?.start();
  return {
    metrics,
    tracing: options.tracing,
    alerts,
    async close() {
      await alerts?.stop();
      metrics?.close();
      detachLogs?.();
      detachTracing?.();
      await options.tracing?.shutdown();
    },
  };
}

/**
 * `dirigent_trace_spans_total{outcome}`: spans exported, dropped before export (the queue was full, or
 * the tracing worker died) and refused by the collector, so lost spans are seen, not only guessed at.
 * Read from the tracing's counts at scrape time.
 */
function registerTracingCounts(registry: Registry, tracing: DirigentTracing): void {
  const seen: TracingStats = { recorded: 0, dropped: 0, exported: 0, failed: 0 };
  new Counter({
    name: "dirigent_trace_spans_total",
    help: "Trace spans by outcome: exported, dropped (queue full or worker gone), failed (export refused).",
    labelNames: ["outcome"],
    registers: [registry],
    collect() {
      const now = tracing.stats();
      for (const outcome of ["exported", "dropped", "failed"] as const) {
        this.inc({ outcome }, now[outcome] - seen[outcome]);
        seen[outcome] = now[outcome];
      }
    },
  });
}
