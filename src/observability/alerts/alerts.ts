import { Gauge, type Registry } from "prom-client";
import { v5 as uuidv5 } from "uuid";
import type { Clock, TimerHandle } from "../../core/clock.js";
import type { Engine } from "../../runtime/engine.js";
import { BoundedMap } from "../bounded.js";
import { FailureWindow, formatMs } from "./failure-window.js";
import {
  type AlertRule,
  type AlertsConfig,
  type ResolvedAlertsConfig,
  resolveAlertsConfig,
} from "./rules.js";
import { cloudEvent, type DeliveryState, WebhookDelivery } from "./webhooks.js";

/** An alert as listed by the API and the dashboard. */
export interface AlertView {
  /** Stable for one firing: derived from the key and the moment the condition began. */
  id: string;
  rule: string;
  kind: AlertRule["kind"];
  severity: AlertRule["severity"];
  /** `<rule>|<subject key>`: one alert per key at a time (dedupe). */
  key: string;
  /** What the alert is about: a run id, a queue, a workflow. */
  subject: string;
  summary: string;
  labels: Record<string, string>;
  value?: number;
  threshold?: number;
  state: "firing" | "resolved";
  /** When the condition began (a run's failure, the moment a run entered its state, ...). */
  since: number;
  firedAt: number;
  resolvedAt?: number;
  /** Webhook deliveries of this alert's notifications. */
  deliveries: { eventId: string; webhook: string; state: DeliveryState; attempts: number }[];
}

export interface AlertsView {
  rules: AlertRule[];
  active: AlertView[];
  /** Resolved alerts, newest first (the last 200). */
  recent: AlertView[];
}

/** What `createAlerts` returns. */
export interface DirigentAlerts {
  /** Listen to the engine and evaluate every `evaluationIntervalMs` on the clock. */
  start(): void;
  /** One evaluation of the store-backed conditions now (also resolves alerts whose condition cleared). */
  evaluate(): Promise<void>;
  list(): AlertsView;
  /** Resolves when every notification was delivered or gave up (retries wait on the clock). */
  idle(): Promise<void>;
  /** Stop evaluating; waiting retries give up. */
  stop(): Promise<void>;
}

/** The CloudEvents `type` of notifications. */
export const ALERT_FIRING = "dev.dirigent.alert.firing";
export const ALERT_RESOLVED = "dev.dirigent.alert.resolved";

const ID_NAMESPACE = "3f0c3a52-4d7e-5b8e-9a61-0b7c2f9d4e11";
const RECENT = 200;

interface Fire {
  subjectKey: string;
  subject: string;
  summary: string;
  labels: Record<string, string>;
  since: number;
  value?: number;
  threshold?: number;
}

/**
 * Alerts: rules from config evaluated on engine events (a run failed, a step retried N times) and on a
 * clock tick against the store (runs stuck in a state, queue age, failure rate), sent to webhooks as
 * CloudEvents. An alert fires once per key while its condition holds (dedupe) and sends a resolved
 * notice when it clears. Ids derive from the condition and its onset, so a restarted node, or a second
 * node, sends the same id for the same firing; receivers dedupe on it.
 *
 * @example
 * const alerts = createAlerts(engine, {
 *   rules: [{ name: "payment-failed", kind: "run_failed", workflow: "place-order", severity: "critical" }],
 *   webhooks: [{ url: "https://hooks.example.com/dirigent" }],
 * });
 * alerts.start();
 */
export function createAlerts(
  engine: Engine,
  config: AlertsConfig,
  options: { clock?: Clock; registry?: Registry } = {},
): DirigentAlerts {
  return new AlertManager(
    engine,
    resolveAlertsConfig(config),
    options.clock ?? engine.clock,
    options.registry,
  );
}

class AlertManager implements DirigentAlerts {
  private readonly active = new Map<string, AlertView>();
  private readonly recent: AlertView[] = [];
  private readonly byEventId = new BoundedMap<string, AlertView>(10_000);
  private readonly workflowOf = new BoundedMap<string, string>(50_000);
  private readonly windows = new Map<string, FailureWindow>();
  private readonly delivery: WebhookDelivery;
  private offs: (() => void)[] = [];
  private timer: TimerHandle | undefined;
  private evaluating: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly config: ResolvedAlertsConfig,
    private readonly clock: Clock,
    registry?: Registry,
  ) {
    this.delivery = new WebhookDelivery(config, clock, (id, url, state, attempts) =>
      this.recordDelivery(id, url, state, attempts),
    );
    for (const rule of config.rules) {
      if (rule.kind === "failure_rate") this.windows.set(rule.name, new FailureWindow(rule.windowMs));
    }
    if (registry) {
      const active = this.active;
      new Gauge({
        name: "dirigent_alerts_firing",
        help: "Alerts firing now, by rule and severity.",
        labelNames: ["rule", "severity"],
        registers: [registry],
        collect() {
          this.reset();
          for (const a of active.values()) this.inc({ rule: a.rule, severity: a.severity });
        },
      });
    }
  }

  start(): void {
    if (this.offs.length || this.stopped) return;
    const rules = this.config.rules;
    const e = this.engine;
    this.offs = [
      e.events.on("run:claimed", ({ runId, workflow }) => {
        this.workflowOf.set(runId, workflow);
        for (const r of rules)
          if (r.kind === "run_failed") this.resolve(`${r.name}|run:${runId}`, "the run was resumed");
      }),
      e.events.on("run:finished", ({ runId, workflow, status, error }) => {
        const name = workflow || this.workflowOf.get(runId) || "";
        this.workflowOf.delete(runId);
        for (const a of [...this.active.values()]) {
          if (a.kind === "step_retries" && a.labels.runId === runId) this.resolve(a.key, `the run ${status}`);
        }
        for (const r of rules) {
          if (r.kind !== "failure_rate" && r.kind !== "run_failed") continue;
          if (r.workflow && r.workflow !== name) continue;
          if (r.kind === "failure_rate") {
            this.windows.get(r.name)!.record(this.clock.now(), status === "failed");
            this.checkFailureRate(r);
          } else if (r.kind === "run_failed" && status === "failed") {
            this.track(this.runFailed(r, runId, name, error?.message));
          }
        }
      }),
      e.events.on("step:retrying", ({ runId, seq, name, attempt, error }) => {
        const workflow = this.workflowOf.get(runId) ?? "";
        for (const r of rules) {
          if (r.kind !== "step_retries" || attempt < r.retries) continue;
          if ((r.workflow && r.workflow !== workflow) || (r.step && r.step !== name)) continue;
          this.fire(r, {
            subjectKey: `step:${runId}:${seq}`,
            subject: runId,
            summary: `step "${name}" of run ${runId} failed ${attempt} attempt${attempt === 1 ? "" : "s"} and is retrying: ${error.message}`,
            labels: { runId, workflow, step: name, seq: String(seq) },
            since: this.clock.now(),
            value: attempt,
            threshold: r.retries,
          });
        }
      }),
      e.events.on("step:completed", ({ runId, seq }) => this.resolveStep(runId, seq, "the step completed")),
      e.events.on("step:failed", ({ runId, seq }) =>
        this.resolveStep(runId, seq, "the step stopped retrying"),
      ),
    ];
    this.arm();
  }

  evaluate(): Promise<void> {
    // One evaluation at a time; a call made during one starts a fresh one after it (new clock reading).
    const run = (this.evaluating ?? Promise.resolve()).then(() => this.evaluateAll());
    const tracked: Promise<void> = run.finally(() => {
      if (this.evaluating === tracked) this.evaluating = undefined;
    });
    this.evaluating = tracked;
    return tracked;
  }

  list(): AlertsView {
    return {
      rules: this.config.rules,
      active: [...this.active.values()].map(copy),
      recent: this.recent.map(copy),
    };
  }

  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    await this.delivery.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    for (const off of this.offs.splice(0)) off();
    await this.evaluating;
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    await this.delivery.stop();
  }

  // ---- conditions ----------------------------------------------------------------------------------

  private async evaluateAll(): Promise<void> {
    for (const rule of this.config.rules) {
      try {
        await this.evaluateRule(rule);
      } catch (error) {
        this.engine.events.emit("engine:error", { error, context: `alert rule ${rule.name}` });
      }
    }
  }

  private async evaluateRule(rule: AlertRule): Promise<void> {
    const now = this.clock.now();
    const store = this.engine.store;
    switch (rule.kind) {
      case "run_failed":
        for (const a of this.activeOf(rule)) {
          const run = await store.getRun(a.labels.runId);
          if (run?.status !== "failed") this.resolve(a.key, `the run is ${run?.status ?? "gone"}`);
        }
        return;
      case "step_retries":
        for (const a of this.activeOf(rule)) {
          const entry = await store.getEntry(a.labels.runId, Number(a.labels.seq));
          if (entry?.status !== "retrying") this.resolve(a.key, `the step is ${entry?.status ?? "gone"}`);
        }
        return;
      case "run_stuck":
        return this.checkStuck(rule, now);
      case "queue_age": {
        const queues = await this.engine.tasks.list();
        const seen = new Set<string>();
        for (const q of queues) {
          if (rule.queue && q.queue !== rule.queue) continue;
          seen.add(q.queue);
          const key = `${rule.name}|queue:${q.queue}`;
          if (q.oldestQueuedAgeMs > rule.maxAgeMs) {
            this.fire(rule, {
              subjectKey: `queue:${q.queue}`,
              subject: q.queue,
              summary: `the oldest task in queue ${q.queue} has waited ${formatMs(q.oldestQueuedAgeMs)} (limit ${formatMs(rule.maxAgeMs)})`,
              labels: { queue: q.queue },
              since: now - q.oldestQueuedAgeMs,
              value: q.oldestQueuedAgeMs / 1000,
              threshold: rule.maxAgeMs / 1000,
            });
          } else this.resolve(key, `the oldest task has waited ${formatMs(q.oldestQueuedAgeMs)}`);
        }
        for (const a of this.activeOf(rule))
          if (!seen.has(a.labels.queue)) this.resolve(a.key, "the queue is gone");
        return;
      }
      case "failure_rate":
        return this.checkFailureRate(rule);
    }
  }

  private async runFailed(rule: AlertRule, runId: string, workflow: string, message?: string): Promise<void> {
    const run = await this.engine.store.getRun(runId).catch(() => undefined);
    if (run && run.status !== "failed") return; // already retried
    this.fire(rule, {
      subjectKey: `run:${runId}`,
      subject: runId,
      summary: `run ${runId} of ${workflow || run?.workflow} failed${message ? `: ${message}` : ""}`,
      labels: { runId, workflow: workflow || run?.workflow || "" },
      since: run?.completedAt ?? this.clock.now(),
    });
  }

  private async checkStuck(rule: Extract<AlertRule, { kind: "run_stuck" }>, now: number): Promise<void> {
    const store = this.engine.store;
    const stuck = new Set<string>();
    let cursor: string | undefined;
    let scanned = 0;
    // A run in its state for longer than `forMs` was created before now - forMs.
    while (scanned < this.config.maxStuckScan) {
      const page = await store.listRuns({
        status: [rule.status],
        workflow: rule.workflow,
        createdBefore: now - rule.forMs,
        limit: Math.min(500, this.config.maxStuckScan - scanned),
        cursor,
      });
      scanned += page.runs.length;
      for (const run of page.runs) {
        const inState = now - run.updatedAt;
        if (inState <= rule.forMs) continue;
        stuck.add(run.runId);
        this.fire(rule, {
          subjectKey: `run:${run.runId}`,
          subject: run.runId,
          summary: `run ${run.runId} of ${run.workflow} has been ${rule.status} for ${formatMs(inState)} (limit ${formatMs(rule.forMs)})`,
          labels: { runId: run.runId, workflow: run.workflow, status: rule.status },
          since: run.updatedAt,
          value: inState / 1000,
          threshold: rule.forMs / 1000,
        });
      }
      if (!page.nextCursor || page.runs.length === 0) break;
      cursor = page.nextCursor;
    }
    for (const a of this.activeOf(rule)) {
      if (stuck.has(a.labels.runId)) continue;
      const run = await store.getRun(a.labels.runId);
      if (!run || run.status !== rule.status || now - run.updatedAt <= rule.forMs) {
        this.resolve(a.key, `the run is ${run?.status ?? "gone"}`);
      }
    }
  }

  private checkFailureRate(rule: Extract<AlertRule, { kind: "failure_rate" }>): void {
    const { total, failed } = this.windows.get(rule.name)!.counts(this.clock.now());
    const percent = total ? (failed * 100) / total : 0;
    const scope = rule.workflow ? ` of ${rule.workflow}` : "";
    if (total >= rule.minRuns && percent > rule.percent) {
      this.fire(rule, {
        subjectKey: "rate",
        subject: rule.workflow ?? "*",
        summary: `${failed} of ${total} runs${scope} failed in the last ${formatMs(rule.windowMs)} (${round(percent)}% > ${rule.percent}%)`,
        labels: rule.workflow ? { workflow: rule.workflow } : {},
        since: this.clock.now(),
        value: round(percent),
        threshold: rule.percent,
      });
    } else {
      this.resolve(`${rule.name}|rate`, `${failed} of ${total} runs${scope} failed (${round(percent)}%)`);
    }
  }

  // ---- firing and resolving ------------------------------------------------------------------------

  private fire(rule: AlertRule, f: Fire): void {
    if (this.stopped) return;
    const key = `${rule.name}|${f.subjectKey}`;
    const existing = this.active.get(key);
    if (existing) {
      if (f.value !== undefined) existing.value = f.value;
      return;
    }
    const alert: AlertView = {
      id: uuidv5(`${key}|${f.since}`, ID_NAMESPACE),
      rule: rule.name,
      kind: rule.kind,
      severity: rule.severity,
      key,
      subject: f.subject,
      summary: f.summary,
      labels: f.labels,
      value: f.value,
      threshold: f.threshold,
      state: "firing",
      since: f.since,
      firedAt: this.clock.now(),
      deliveries: [],
    };
    this.active.set(key, alert);
    this.notify(alert, "firing");
  }

  private resolve(key: string, reason: string): void {
    const alert = this.active.get(key);
    if (!alert || this.stopped) return;
    this.active.delete(key);
    alert.state = "resolved";
    alert.resolvedAt = this.clock.now();
    alert.summary = `${alert.summary} — resolved: ${reason}`;
    this.recent.unshift(alert);
    if (this.recent.length > RECENT) this.recent.pop();
    this.notify(alert, "resolved");
  }

  private resolveStep(runId: string, seq: number, reason: string): void {
    for (const r of this.config.rules)
      if (r.kind === "step_retries") this.resolve(`${r.name}|step:${runId}:${seq}`, reason);
  }

  private notify(alert: AlertView, state: "firing" | "resolved"): void {
    const rule = this.config.rules.find((r) => r.name === alert.rule);
    const eventId = `${alert.id}.${state}`;
    this.byEventId.set(eventId, alert);
    const iso = (t?: number) => (t === undefined ? undefined : new Date(t).toISOString());
    this.delivery.send(
      cloudEvent({
        id: eventId,
        key: alert.key,
        source: this.config.source,
        type: state === "firing" ? ALERT_FIRING : ALERT_RESOLVED,
        subject: alert.subject,
        time: state === "firing" ? alert.firedAt : alert.resolvedAt!,
        data: stripUndefined({
          alertId: alert.id,
          rule: alert.rule,
          kind: alert.kind,
          severity: alert.severity,
          description: rule?.description,
          state,
          key: alert.key,
          summary: alert.summary,
          labels: alert.labels,
          value: alert.value,
          threshold: alert.threshold,
          since: iso(alert.since),
          firedAt: iso(alert.firedAt),
          resolvedAt: iso(alert.resolvedAt),
        }),
      }),
    );
  }

  private recordDelivery(eventId: string, webhook: string, state: DeliveryState, attempts: number): void {
    const alert = this.byEventId.get(eventId);
    if (!alert) return;
    const d = alert.deliveries.find((x) => x.eventId === eventId && x.webhook === webhook);
    if (d) Object.assign(d, { state, attempts: Math.max(d.attempts, attempts) });
    else alert.deliveries.push({ eventId, webhook, state, attempts });
  }

  private activeOf(rule: AlertRule): AlertView[] {
    return [...this.active.values()].filter((a) => a.rule === rule.name);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch(() => {}).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.evaluate().finally(() => this.arm());
    }, this.config.evaluationIntervalMs);
  }
}

function copy(a: AlertView): AlertView {
  return { ...a, labels: { ...a.labels }, deliveries: a.deliveries.map((d) => ({ ...d })) };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
