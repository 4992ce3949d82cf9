import { DirigentError, isTerminalError, retryAfterMsOf } from "./errors.js";
import type { EntryDetail } from "./types.js";

/** How a failing step is retried. Every attempt counts, the first one included. */
export interface RetryPolicy {
  /** Total attempts, the first included. 1 means no retry. */
  maxAttempts: number;
  /** Delay before the second attempt. */
  initialIntervalMs: number;
  /** Each further delay is the previous one times this factor. */
  backoffCoefficient: number;
  /** Upper bound of any single delay. */
  maxIntervalMs: number;
  /** Fraction (0..1) of random spread around each delay, so many failing runs do not retry in lockstep. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 3,
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maxIntervalMs: 60_000,
  jitter: 0.2,
};

/** Fill in defaults and check ranges once, so later maths never sees a bad policy. */
export function resolveRetryPolicy(
  partial: Partial<RetryPolicy> | undefined,
  base = DEFAULT_RETRY_POLICY,
): RetryPolicy {
  const p: RetryPolicy = { ...base, ...stripUndefined(partial ?? {}) };
  const bad = (what: string) => new DirigentError("INVALID_OPTIONS", `retry policy: ${what}`, { policy: p });
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw bad("maxAttempts must be an integer >= 1");
  if (!(p.initialIntervalMs >= 0)) throw bad("initialIntervalMs must be >= 0");
  if (!(p.backoffCoefficient >= 1)) throw bad("backoffCoefficient must be >= 1");
  if (!(p.maxIntervalMs >= p.initialIntervalMs)) throw bad("maxIntervalMs must be >= initialIntervalMs");
  if (!(p.jitter >= 0 && p.jitter <= 1)) throw bad("jitter must be between 0 and 1");
  return p;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Delay before the attempt after `failedAttempt` (1-based), before jitter is applied:
 * initial * coefficient^(failedAttempt-1), capped at maxIntervalMs.
 */
export function baseDelayMs(policy: RetryPolicy, failedAttempt: number): number {
  const raw = policy.initialIntervalMs * policy.backoffCoefficient ** (failedAttempt - 1);
  return Math.min(policy.maxIntervalMs, raw);
}

export type RetryDecision =
  | { retry: false; reason: "terminal" | "exhausted" }
  | { retry: true; delayMs: number };

/**
 * Decide whether to retry after an attempt failed. `random` is a number in [0,1) supplied by the caller
 * (the core never draws randomness itself). A RetryableError's retry-after is a floor on the delay.
 */
export function decideRetry(
  policy: RetryPolicy,
  failedAttempt: number,
  error: unknown,
  random: number,
): RetryDecision {
  if (isTerminalError(error)) return { retry: false, reason: "terminal" };
  if (failedAttempt >= policy.maxAttempts) return { retry: false, reason: "exhausted" };
  const base = baseDelayMs(policy, failedAttempt);
  const spread = base * policy.jitter * (2 * random - 1);
  let delayMs = Math.max(0, Math.round(base + spread));
  const retryAfter = retryAfterMsOf(error);
  if (retryAfter !== undefined && retryAfter > delayMs) delayMs = retryAfter;
  return { retry: true, delayMs };
}

/**
 * Attempts made before the current retry round of an entry: 0, or as many as it had made when a retry
 * of its run last reopened it. The policy's attempt count (and backoff) is `attempt - this`.
 */
export function attemptsBeforeRound(detail: EntryDetail | undefined): number {
  const retries = detail?.retries;
  return retries?.length ? retries[retries.length - 1].afterAttempt : 0;
}
