import { z } from "zod";
import { type Duration, toMs } from "../../core/duration.js";
import { DirigentError } from "../../core/errors.js";

export type Severity = "critical" | "warning" | "info";

/** An alert rule as written in config. Durations are ms or text like "30s", "10m", "2h". */
export type AlertRuleConfig = {
  /** Unique; part of every alert's key and of its CloudEvent. */
  name: string;
  severity?: Severity;
  description?: string;
} & (
  | { kind: "run_failed"; workflow?: string }
  | { kind: "step_retries"; retries: number; workflow?: string; step?: string }
  | { kind: "run_stuck"; status: "pending" | "running" | "waiting"; for: Duration; workflow?: string }
  | { kind: "queue_age"; maxAge: Duration; queue?: string }
  | { kind: "failure_rate"; percent: number; window: Duration; minRuns?: number; workflow?: string }
);

/** A rule after validation, durations in ms. */
export type AlertRule = { name: string; severity: Severity; description?: string } & (
  | { kind: "run_failed"; workflow?: string }
  | { kind: "step_retries"; retries: number; workflow?: string; step?: string }
  | { kind: "run_stuck"; status: "pending" | "running" | "waiting"; forMs: number; workflow?: string }
  | { kind: "queue_age"; maxAgeMs: number; queue?: string }
  | { kind: "failure_rate"; percent: number; windowMs: number; minRuns: number; workflow?: string }
);

export interface WebhookConfig {
  url: string;
  /** Sent with every delivery (e.g. an Authorization header). */
  headers?: Record<string, string>;
  /** Per delivery attempt (default 10 s). */
  timeoutMs?: number;
}

export interface AlertsConfig {
  rules: AlertRuleConfig[];
  /** Every alert goes to every webhook, as a CloudEvents 1.0 JSON event. */
  webhooks?: WebhookConfig[];
  /** CloudEvents `source` (default "dirigent"); keep it the same on every node so ids dedupe. */
  source?: string;
  /** How often conditions that need the store are checked (default 15 s). */
  evaluationIntervalMs?: number;
  /** Webhook delivery: attempts per event and the backoff between them. */
  delivery?: { maxAttempts?: number; initialBackoffMs?: number; maxBackoffMs?: number };
  /** Most runs read per run_stuck rule and evaluation (default 10,000). */
  maxStuckScan?: number;
}

/** The validated config. */
export interface ResolvedAlertsConfig {
  rules: AlertRule[];
  webhooks: Required<WebhookConfig>[];
  source: string;
  evaluationIntervalMs: number;
  delivery: { maxAttempts: number; initialBackoffMs: number; maxBackoffMs: number };
  maxStuckScan: number;
}

// Durations are checked here, so every problem of a config comes out of one parse with its path.
const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    return toMs(value, "duration");
  } catch (error) {
    ctx.issues.push({ code: "custom", message: (error as Error).message, input: value });
    return z.NEVER;
  }
});
const base = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "1-100 letters, digits, . _ -"),
  severity: z.enum(["critical", "warning", "info"]).default("warning"),
  description: z.string().max(1_000).optional(),
};
const ruleSchema = z.discriminatedUnion("kind", [
  z.object({ ...base, kind: z.literal("run_failed"), workflow: z.string().optional() }).strict(),
  z
    .object({
      ...base,
      kind: z.literal("step_retries"),
      retries: z.number().int().min(1),
      workflow: z.string().optional(),
      step: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ...base,
      kind: z.literal("run_stuck"),
      status: z.enum(["pending", "running", "waiting"]),
      for: duration,
      workflow: z.string().optional(),
    })
    .strict(),
  z
    .object({ ...base, kind: z.literal("queue_age"), maxAge: duration, queue: z.string().optional() })
    .strict(),
  z
    .object({
      ...base,
      kind: z.literal("failure_rate"),
      percent: z.number().min(0).max(100),
      window: duration,
      minRuns: z.number().int().min(1).default(10),
      workflow: z.string().optional(),
    })
    .strict(),
]);
const configSchema = z
  .object({
    rules: z.array(ruleSchema),
    webhooks: z
      .array(
        z
          .object({
            url: z.url(),
            headers: z.record(z.string(), z.string()).default({}),
            timeoutMs: z.number().int().positive().default(10_000),
          })
          .strict(),
      )
      .default([]),
    source: z.string().min(1).default("dirigent"),
    evaluationIntervalMs: z.number().int().min(100).default(15_000),
    delivery: z
      .object({
        maxAttempts: z.number().int().min(1).default(8),
        initialBackoffMs: z.number().int().min(1).default(1_000),
        maxBackoffMs: z.number().int().min(1).default(300_000),
      })
      .strict()
      .default({ maxAttempts: 8, initialBackoffMs: 1_000, maxBackoffMs: 300_000 }),
    maxStuckScan: z.number().int().min(1).default(10_000),
  })
  .strict();

/** One problem of an alert config, at its path inside the config (`["rules", 0, "for"]`). */
export interface AlertsConfigProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Check an alert config without throwing: the validated config, or every problem with its path (so a
 * config file can say where each one is). `resolveAlertsConfig` is the throwing form.
 */
export function checkAlertsConfig(
  config: unknown,
): { ok: true; config: ResolvedAlertsConfig } | { ok: false; problems: AlertsConfigProblem[] } {
  const parsed = configSchema.safeParse(config);
  const problems = duplicateNames(config);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i): AlertsConfigProblem[] => {
      const path = i.path.map((k) => (typeof k === "number" ? k : String(k)));
      // An unknown key is reported where it is, so that a config file can point at its line.
      if (i.code === "unrecognized_keys")
        return i.keys.map((key) => ({ path: [...path, key], message: `unknown key "${key}"` }));
      return [{ path, message: i.message }];
    });
    problems.unshift(...issues);
  }
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  const rules = parsed.data.rules.map((r): AlertRule => {
    switch (r.kind) {
      case "run_stuck": {
        const { for: forMs, ...rest } = r;
        return { ...rest, forMs };
      }
      case "queue_age": {
        const { maxAge, ...rest } = r;
        return { ...rest, maxAgeMs: maxAge };
      }
      case "failure_rate": {
        const { window, ...rest } = r;
        return { ...rest, windowMs: window };
      }
      default:
        return r;
    }
  });
  return { ok: true, config: { ...parsed.data, rules } as ResolvedAlertsConfig };
}

/** Rule names used twice (checked on the raw config, so they are reported beside any other problem). */
function duplicateNames(config: unknown): AlertsConfigProblem[] {
  const rules = (config as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return [];
  const seen = new Set<string>();
  const problems: AlertsConfigProblem[] = [];
  rules.forEach((rule, i) => {
    const name = (rule as { name?: unknown } | null)?.name;
    if (typeof name !== "string") return;
    if (seen.has(name))
      problems.push({ path: ["rules", i, "name"], message: `rule name "${name}" is used twice` });
    seen.add(name);
  });
  return problems;
}

/**
 * Validate alert config once: unknown keys, bad durations and duplicate rule names are refused with
 * INVALID_OPTIONS naming the place.
 *
 * @example
 * const config = resolveAlertsConfig({
 *   rules: [{ name: "orders-stuck", kind: "run_stuck", status: "waiting", for: "2h", workflow: "order" }],
 *   webhooks: [{ url: "https://hooks.example.com/dirigent" }],
 * });
 */
export function resolveAlertsConfig(config: AlertsConfig): ResolvedAlertsConfig {
  const checked = checkAlertsConfig(config);
  if (checked.ok) return checked.config;
  const issues = checked.problems.map((p) => `${p.path.join(".") || "(alerts)"}: ${p.message}`);
  throw new DirigentError("INVALID_OPTIONS", `invalid alert config: ${issues.join("; ")}`, { issues });
}
