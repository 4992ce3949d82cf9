import type { Duration } from "../core/duration.js";
import type { RetryPolicy } from "../core/retry.js";
import type { HttpRequestSpec, HttpResponse } from "./http-step.js";
import type { WorkflowDefinition } from "./workflow.js";

export type { HttpRequestSpec, HttpResponse };

/** What a step function receives. */
export interface StepInfo {
  /** 1 for the first attempt. */
  attempt: number;
  /** `<runId>:<seq>`: the same on every attempt and after a crash. Send it to services as Idempotency-Key. */
  idempotencyKey: string;
  /** Aborted when the attempt times out, or the run is cancelled or terminated. */
  signal: AbortSignal;
  runId: string;
  /** The step's journal sequence number. */
  seq: number;
  /**
   * W3C traceparent for this attempt's outgoing calls when tracing is configured (EngineOptions
   * .traceparent), else undefined. Computed when read.
   */
  readonly traceparent?: string;
}

export interface StepOptions<T> {
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout: the signal aborts and the attempt counts as failed with STEP_TIMEOUT. */
  timeoutMs?: number;
  /**
   * Saga compensation: if the run later fails or is cancelled, the undos of completed steps run in
   * reverse order, each durable and retried.
   */
  undo?: (result: T, info: StepInfo) => Promise<unknown> | unknown;
}

export interface SignalOptions {
  /** Give up waiting after this long: the wait throws a SIGNAL_TIMEOUT error. */
  timeoutMs?: number;
}

export interface TaskOptions {
  /** The queue remote workers poll. */
  queue: string;
  input?: unknown;
  /** Retries of failed or timed-out attempts (the worker may also fail an attempt as terminal). */
  retry?: Partial<RetryPolicy>;
  /** Longest one attempt may take once a worker leased it (default 5 minutes). */
  startToCloseMs?: number;
  /** A leased attempt whose worker sends no heartbeat for this long is taken back and retried. */
  heartbeatTimeoutMs?: number;
  /** Longest the task may wait in the queue for a worker; past it the task fails with TASK_TIMEOUT. */
  scheduleToStartMs?: number;
  /** Higher runs first (default 0). */
  priority?: number;
}

export interface ChildOptions {
  /** Run id of the child; defaults to `<parentRunId>:<seq>`, stable across replays. */
  runId?: string;
}

/**
 * The durable context handed to a workflow function. Every call is recorded in the run's journal
 * under the next sequence number; on replay the recorded outcome is returned instead of doing the
 * work again. Workflow code must reach the same ctx calls in the same order given the same results:
 * use ctx.now(), ctx.random() and ctx.uuid() instead of Date.now(), Math.random() or crypto.
 *
 * @example
 * const order = workflow("order", async (ctx, o: Order) => {
 *   const charge = await ctx.step("charge", ({ idempotencyKey }) => pay(o, idempotencyKey), {
 *     retry: { maxAttempts: 5 },
 *     undo: (c) => refund(c.id),
 *   });
 *   await ctx.sleep("cool-off", "10m");
 *   const ok = await ctx.waitForSignal<boolean>("approval", { timeoutMs: 86_400_000 });
 *   return { charge: charge.id, ok };
 * });
 */
export interface WorkflowContext {
  readonly runId: string;
  readonly workflow: string;
  /** Run a journaled step: executed at least once, and never again once it completed. */
  step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, options?: StepOptions<T>): Promise<T>;
  /**
   * A journaled HTTP call: sends the step's idempotency key as `Idempotency-Key`, retries connection
   * errors, timeouts, 408/425/429 and 5xx (honouring Retry-After) and fails at once on other statuses.
   */
  http(
    name: string,
    request: HttpRequestSpec,
    options?: Omit<StepOptions<HttpResponse>, "undo"> & { undo?: StepOptions<HttpResponse>["undo"] },
  ): Promise<HttpResponse>;
  /** Durable timer: survives restarts; fires no earlier than due. */
  sleep(name: string, duration: Duration): Promise<void>;
  sleepUntil(name: string, epochMs: number): Promise<void>;
  /** Wait for a signal sent to this run. A signal sent before the wait is buffered and returned at once. */
  waitForSignal<T = unknown>(name: string, options?: SignalOptions): Promise<T>;
  /**
   * Hand a task to a queue for a remote worker (any language, over HTTP) and wait durably for its
   * result. The worker receives the idempotency key `<runId>:<seq>`; its failure is thrown here as
   * STEP_FAILED once retries are exhausted.
   */
  task<T = unknown>(name: string, options: TaskOptions): Promise<T>;
  /** Start a child run and wait for its result (its failure is thrown here as CHILD_FAILED). */
  child<I, O>(workflow: WorkflowDefinition<I, O> | string, input: I, options?: ChildOptions): Promise<O>;
  /** The time, recorded once and the same on replay. */
  now(): number;
  /** A random number in [0, 1), seeded by the run id: the same sequence on replay. */
  random(): number;
  /** A UUID (v7), recorded once and the same on replay. */
  uuid(): string;
}
