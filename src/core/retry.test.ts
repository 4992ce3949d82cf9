import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DirigentError, RetryableError, TerminalError } from "./errors.js";
import { baseDelayMs, DEFAULT_RETRY_POLICY, decideRetry, resolveRetryPolicy } from "./retry.js";

describe("retry policy", () => {
  const policy = resolveRetryPolicy({
    maxAttempts: 5,
    initialIntervalMs: 100,
    backoffCoefficient: 2,
    maxIntervalMs: 500,
    jitter: 0,
  });

  it("grows exponentially and caps at maxIntervalMs", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((a) => baseDelayMs(policy, a)),
      [100, 200, 400, 500, 500],
    );
  });

  it("retries until maxAttempts, counting the first attempt", () => {
    assert.deepEqual(decideRetry(policy, 1, new Error("x"), 0.5), { retry: true, delayMs: 100 });
    assert.deepEqual(decideRetry(policy, 4, new Error("x"), 0.5), { retry: true, delayMs: 500 });
    assert.deepEqual(decideRetry(policy, 5, new Error("x"), 0.5), { retry: false, reason: "exhausted" });
  });

  it("never retries a TerminalError", () => {
    assert.deepEqual(decideRetry(policy, 1, new TerminalError("no"), 0.5), {
      retry: false,
      reason: "terminal",
    });
  });

  it("takes a RetryableError's retry-after as a floor", () => {
    assert.deepEqual(decideRetry(policy, 1, new RetryableError("later", { retryAfterMs: 5_000 }), 0.5), {
      retry: true,
      delayMs: 5_000,
    });
    assert.deepEqual(decideRetry(policy, 3, new RetryableError("soon", { retryAfterMs: 10 }), 0.5), {
      retry: true,
      delayMs: 400,
    });
  });

  it("spreads delays by the jitter fraction, within bounds", () => {
    const jittery = resolveRetryPolicy({ initialIntervalMs: 1_000, jitter: 0.2, maxAttempts: 3 });
    const low = decideRetry(jittery, 1, new Error(), 0);
    const high = decideRetry(jittery, 1, new Error(), 0.999999);
    assert.ok(low.retry && high.retry);
    assert.equal(low.delayMs, 800);
    assert.equal(high.delayMs, 1_200);
  });

  it("fills defaults and refuses nonsense with INVALID_OPTIONS", () => {
    assert.deepEqual(resolveRetryPolicy(undefined), DEFAULT_RETRY_POLICY);
    assert.equal(
      resolveRetryPolicy({ maxAttempts: undefined }).maxAttempts,
      DEFAULT_RETRY_POLICY.maxAttempts,
    );
    for (const bad of [
      { maxAttempts: 0 },
      { maxAttempts: 1.5 },
      { backoffCoefficient: 0.5 },
      { jitter: 2 },
      { initialIntervalMs: 10, maxIntervalMs: 5 },
    ]) {
      assert.throws(
        () => resolveRetryPolicy(bad),
        (e: unknown) => e instanceof DirigentError && e.code === "INVALID_OPTIONS",
      );
    }
  });
});
