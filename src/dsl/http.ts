import { createHash } from "node:crypto";
import { TerminalError } from "../core/errors.js";
import type { StepInfo } from "../runtime/context.js";
import { type HttpRequestSpec, type HttpResponse, httpAttempt } from "../runtime/http-step.js";
import {
  compileTemplate,
  type ExpressionLimits,
  evaluate,
  expressionsOf,
  type Template,
} from "./expressions.js";
import type { DslHttp } from "./schema.js";
import { redact, redactError, type SecretResolver } from "./secrets.js";

/** An http step (or compensation) with its templates compiled. */
export interface HttpPlan {
  method: NonNullable<HttpRequestSpec["method"]>;
  url: Template;
  headers?: Template;
  query?: Template;
  body?: Template;
  successStatus?: number[];
  /** Secret names the request refers to. */
  secrets: string[];
}

export function compileHttp(spec: DslHttp, limits?: ExpressionLimits): HttpPlan {
  const plan: HttpPlan = {
    method: spec.method ?? "GET",
    url: compileTemplate(spec.url, limits),
    headers: spec.headers === undefined ? undefined : compileTemplate(spec.headers, limits),
    query: spec.query === undefined ? undefined : compileTemplate(spec.query, limits),
    body: spec.body === undefined ? undefined : compileTemplate(spec.body, limits),
    successStatus: spec.successStatus,
    secrets: [],
  };
  const names = new Set<string>();
  for (const t of [plan.url, plan.headers, plan.query, plan.body]) {
    if (t) for (const e of expressionsOf(t)) for (const s of e.secrets) names.add(s);
  }
  plan.secrets = [...names];
  return plan;
}

export interface HttpCallOptions {
  secrets: SecretResolver;
  limits?: ExpressionLimits;
  /** `steps[0].http`, for error messages. */
  where: string;
  /** Per-attempt timeout of the request itself. */
  timeoutMs?: number;
}

/**
 * One attempt of an http step, run inside the step: the request is built here from the journaled
 * context, secrets are resolved here and only here, and what the step returns (and so what the journal
 * records) is the response alone, with any echoed secret value redacted. Errors are redacted too.
 */
export async function callHttp(
  plan: HttpPlan,
  context: Record<string, unknown>,
  info: StepInfo,
  options: HttpCallOptions,
): Promise<HttpResponse> {
  const used = new Map<string, string>();
  for (const name of plan.secrets) {
    let value: string | undefined;
    try {
      value = options.secrets(name);
    } catch (err) {
      throw new TerminalError((err as Error).message, { code: "SECRET_NOT_FOUND" });
    }
    if (value === undefined) {
      throw new TerminalError(`secret ${name} is not defined`, {
        code: "SECRET_NOT_FOUND",
        details: { secret: name },
      });
    }
    used.set(name, value);
  }
  const scope = used.size > 0 ? { ...context, secrets: Object.fromEntries(used) } : context;
  const env = { random: Math.random, now: Date.now, inStep: true };
  const where = options.where;
  try {
    const url = await evaluate(plan.url, scope, { ...env, where: `${where}.url` }, options.limits);
    if (typeof url !== "string" || !URL.canParse(url)) {
      throw new TerminalError(`${where}.url is not an absolute URL: ${JSON.stringify(url)}`, {
        code: "INVALID_ARGUMENT",
      });
    }
    const spec: HttpRequestSpec = { method: plan.method, url, successStatus: plan.successStatus };
    if (plan.headers)
      spec.headers = stringMap(
        await evaluate(plan.headers, scope, { ...env, where: `${where}.headers` }, options.limits),
      );
    if (plan.query)
      spec.query = stringMap(
        await evaluate(plan.query, scope, { ...env, where: `${where}.query` }, options.limits),
      );
    if (plan.body)
      spec.body = await evaluate(plan.body, scope, { ...env, where: `${where}.body` }, options.limits);
    if (options.timeoutMs !== undefined) spec.timeoutMs = options.timeoutMs;
    // The engine's tracing, when configured, so the call joins the run's real trace; otherwise a
    // trace context derived from the run, so services still see one trace per run.
    const response = await httpAttempt(spec, info, info.traceparent ?? traceparent(info));
    return used.size > 0 ? redact(response, used) : response;
  } catch (err) {
    throw redactError(err, used);
  }
}

function stringMap(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TerminalError("headers and query must be mappings", { code: "INVALID_ARGUMENT" });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

/**
 * W3C trace context: the trace id is derived from the run id (every call of a run is one trace), the
 * parent span id from the step's idempotency key and attempt (each attempt is its own span).
 */
export function traceparent(info: Pick<StepInfo, "runId" | "idempotencyKey" | "attempt">): string {
  const traceId = createHash("sha256").update(info.runId).digest("hex").slice(0, 32);
  const spanId = createHash("sha256")
    .update(`${info.idempotencyKey}#${info.attempt}`)
    .digest("hex")
    .slice(0, 16);
  return `00-${traceId}-${spanId}-01`;
}
