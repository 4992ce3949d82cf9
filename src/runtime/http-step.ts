import { request } from "undici";
import { RetryableError, TerminalError } from "../core/errors.js";
import type { StepInfo } from "./context.js";

export interface HttpRequestSpec {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  url: string;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
  /** Per-attempt timeout; the step's own timeoutMs also applies. */
  timeoutMs?: number;
  /** Status codes that count as success (default: 200-299). */
  successStatus?: number[];
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the response says it is JSON, else the text. */
  body: unknown;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * One HTTP call as a step attempt. Sends the step's idempotency key as `Idempotency-Key` (and a W3C
 * `traceparent` when one is given), retries what is worth retrying (connection errors, timeouts, 408,
 * 425, 429 and 5xx, honouring Retry-After) and fails at once on other statuses, which retrying cannot
 * fix.
 */
export async function httpAttempt(
  spec: HttpRequestSpec,
  info: StepInfo,
  traceparent?: string,
): Promise<HttpResponse> {
  const url = new URL(spec.url);
  for (const [k, v] of Object.entries(spec.query ?? {})) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = {
    "idempotency-key": info.idempotencyKey,
    ...lower(spec.headers ?? {}),
  };
  if (traceparent && !headers.traceparent) headers.traceparent = traceparent;
  let body: string | undefined;
  if (spec.body !== undefined) {
    body = typeof spec.body === "string" ? spec.body : JSON.stringify(spec.body);
    headers["content-type"] ??= typeof spec.body === "string" ? "text/plain" : "application/json";
  }
  const signal = spec.timeoutMs
    ? AbortSignal.any([info.signal, AbortSignal.timeout(spec.timeoutMs)])
    : info.signal;
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, { method: spec.method ?? "GET", headers, body, signal });
  } catch (err) {
    throw new RetryableError(
      `${spec.method ?? "GET"} ${url.origin}${url.pathname} failed: ${(err as Error).message}`,
      {
        code: "HTTP_CONNECTION",
      },
    );
  }
  const text = await res.body.text();
  const responseHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined) responseHeaders[k] = Array.isArray(v) ? v.join(", ") : v;
  const parsed = parseBody(text, responseHeaders["content-type"]);
  const ok = spec.successStatus
    ? spec.successStatus.includes(res.statusCode)
    : res.statusCode >= 200 && res.statusCode < 300;
  if (ok) return { status: res.statusCode, headers: responseHeaders, body: parsed };
  const what = `${spec.method ?? "GET"} ${url.origin}${url.pathname} answered ${res.statusCode}`;
  const details = { status: res.statusCode, body: parsed };
  if (RETRYABLE_STATUS.has(res.statusCode)) {
    const retryAfterMs = parseRetryAfter(responseHeaders["retry-after"]);
    const err = new RetryableError(what, { retryAfterMs, code: `HTTP_${res.statusCode}` });
    Object.assign(err, { details });
    throw err;
  }
  throw new TerminalError(what, { code: `HTTP_${res.statusCode}`, details });
}

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text.length === 0) return null;
  if (contentType?.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** Retry-After is either seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
