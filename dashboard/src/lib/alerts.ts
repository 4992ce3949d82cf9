// What the alerts page says about rules and alerts, in words. Pure.
import type { AlertRule, AlertView } from "../api/types.js";
import { formatDuration } from "./format.js";

const ofWorkflow = (workflow?: string) => (workflow ? ` of ${workflow}` : "");

/** A rule's condition as a sentence: "a run of place-order failed", "queue email: oldest task > 5 min". */
export function describeRule(rule: AlertRule): string {
  switch (rule.kind) {
    case "run_failed":
      return `a run${ofWorkflow(rule.workflow)} failed`;
    case "step_retries":
      return `${rule.step ? `step ${rule.step}` : "a step"}${ofWorkflow(rule.workflow)} failed ${rule.retries} or more attempts and retries`;
    case "run_stuck":
      return `a run${ofWorkflow(rule.workflow)} has been ${rule.status} for more than ${formatDuration(rule.forMs)}`;
    case "queue_age":
      return `${rule.queue ? `queue ${rule.queue}` : "a queue"}: its oldest ready task waited more than ${formatDuration(rule.maxAgeMs)}`;
    case "failure_rate":
      return `more than ${rule.percent} % of the runs${ofWorkflow(rule.workflow)} failed in ${formatDuration(rule.windowMs)} (at least ${rule.minRuns} runs)`;
  }
}

/**
 * The measured value against the rule's threshold, in the rule's unit ("3 failed attempts (threshold 2)"),
 * or undefined when the alert has none (a failed run). Times come in seconds.
 */
export function describeValue(alert: Pick<AlertView, "kind" | "value" | "threshold">): string | undefined {
  const { kind, value, threshold } = alert;
  if (value === undefined) return undefined;
  const show = (n: number) =>
    kind === "run_stuck" || kind === "queue_age"
      ? formatDuration(n * 1_000)
      : kind === "failure_rate"
        ? `${n} %`
        : String(n);
  const measured =
    kind === "step_retries"
      ? `${value} failed attempt${value === 1 ? "" : "s"}`
      : kind === "run_stuck"
        ? `for ${show(value)}`
        : kind === "queue_age"
          ? `waited ${show(value)}`
          : kind === "failure_rate"
            ? `${show(value)} failed`
            : show(value);
  return threshold === undefined ? measured : `${measured} (threshold ${show(threshold)})`;
}

/** How each webhook took the alert's notifications: "delivered", "failed after 8 attempts", ... */
export function describeDelivery(d: AlertView["deliveries"][number]): string {
  const attempts = `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`;
  if (d.state === "delivered") return d.attempts > 1 ? `delivered after ${attempts}` : "delivered";
  if (d.state === "failed") return `failed after ${attempts}`;
  return d.attempts > 0 ? `retrying (${attempts} so far)` : "sending";
}

/** Most severe first, then the newest. */
export function sortAlerts(alerts: AlertView[]): AlertView[] {
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  return [...alerts].sort((a, b) => rank[a.severity] - rank[b.severity] || b.firedAt - a.firedAt);
}
