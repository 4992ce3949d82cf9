import type { Clock, TimerHandle } from "../core/clock.js";
import { DirigentError } from "../core/errors.js";
import { encodePayload } from "../core/payload.js";
import { attemptsBeforeRound, decideRetry } from "../core/retry.js";
import type { ErrorInfo, QueueInfo, TaskRecord } from "../core/types.js";
import type { Store, WriteResult } from "../store/store.js";
import type { EngineEvents } from "./events.js";
import type { WriteBatcher } from "./write-batcher.js";

/** A task as handed to a worker: everything it needs to do the work and report back. */
export interface LeasedTask {
  taskId: string;
  /** Fencing token: complete, fail and heartbeat must carry it. */
  leaseToken: number;
  queue: string;
  name: string;
  runId: string;
  input: unknown;
  /** 1 for the first attempt. */
  attempt: number;
  /** Same on every attempt: `<runId>:<seq>`. */
  idempotencyKey: string;
  /** The lease runs out then unless a heartbeat extends it. */
  leaseExpiresAt: number;
  /** The attempt must finish by then whatever the heartbeats (start-to-close). */
  deadlineAt: number;
  heartbeatTimeoutMs?: number;
  traceparent?: string;
}

export interface TaskFailure {
  message: string;
  code?: string;
  /** false: fail the task for good, no further attempts. Default true. */
  retryable?: boolean;
  retryAfterMs?: number;
  details?: unknown;
}

export interface TaskQueuesHost {
  readonly store: Store;
  readonly events: EngineEvents;
  readonly batcher: WriteBatcher;
  readonly clock: Clock;
  readonly maxPayloadBytes: number;
  random(): number;
  /** A run's task finished: its run is due, look for it. */
  kick(): void;
}

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
/** Pollers re-check at least this often (other nodes' tasks, retry times, rate-limit refills). */
const RECHECK_MS = 250;

/**
 * The worker side of task queues: long-poll leasing, heartbeats, completion and failure with fencing,
 * and the sweep that takes back tasks whose lease ran out. Stateless apart from the waiting pollers.
 */
export class TaskQueues {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly host: TaskQueuesHost) {}

  /** Wake pollers waiting on `queue`. */
  notify(queue: string): void {
    const set = this.waiters.get(queue);
    if (!set) return;
    this.waiters.delete(queue);
    for (const fn of set) fn();
  }

  /**
   * Lease up to `maxTasks` tasks of `queue`, waiting up to `waitMs` for one to arrive (long-poll).
   * Returns an empty list when none came in time.
   */
  async poll(args: {
    queue: string;
    workerId: string;
    maxTasks?: number;
    waitMs?: number;
    signal?: AbortSignal;
  }): Promise<LeasedTask[]> {
    const { queue, workerId } = args;
    checkQueue(queue);
    if (typeof workerId !== "string" || workerId.length === 0 || workerId.length > 200) {
      throw new DirigentError(
        "INVALID_ARGUMENT",
        "workerId must be a non-empty string of at most 200 characters",
      );
    }
    const maxTasks = Math.min(Math.max(Math.floor(args.maxTasks ?? 1), 1), 100);
    const clock = this.host.clock;
    const until = clock.now() + Math.max(0, args.waitMs ?? 0);
    for (;;) {
      const tasks = await this.host.store.leaseTasks({ queue, workerId, limit: maxTasks, now: clock.now() });
      if (tasks.length > 0) {
        if (this.host.events.has("task:leased")) {
          for (const t of tasks) {
            this.host.events.emit("task:leased", {
              queue: t.queue,
              taskId: t.taskId,
              runId: t.runId,
              name: t.name,
              attempt: t.attempt,
              workerId,
              availableAt: t.availableAt,
              leasedAt: t.startedAt ?? clock.now(),
            });
          }
        }
        return tasks.map(toLeased);
      }
      const left = until - clock.now();
      if (left <= 0 || args.signal?.aborted) return [];
      await this.waitForQueue(queue, Math.min(left, RECHECK_MS), args.signal);
    }
  }

  private waitForQueue(queue: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      const done = () => {
        if (timer) this.host.clock.clearTimeout(timer);
        this.waiters.get(queue)?.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      let set = this.waiters.get(queue);
      if (!set) this.waiters.set(queue, (set = new Set()));
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
      timer = this.host.clock.setTimeout(done, ms);
    });
  }

  async heartbeat(
    taskId: string,
    leaseToken: number,
  ): Promise<{ cancelRequested: boolean; leaseExpiresAt?: number }> {
    const r = await this.host.batcher.submit({
      type: "heartbeatTask",
      taskId,
      leaseToken,
      now: this.host.clock.now(),
    });
    refused(r, taskId);
    return {
      cancelRequested: r.ok && r.cancelRequested === true,
      leaseExpiresAt: r.ok ? r.leaseExpiresAt : undefined,
    };
  }

  async complete(taskId: string, leaseToken: number, result: unknown): Promise<void> {
    const resultJson = encodePayload(result, this.host.maxPayloadBytes, `result of task ${taskId}`);
    const r = await this.host.batcher.submit({
      type: "completeTask",
      taskId,
      leaseToken,
      resultJson,
      now: this.host.clock.now(),
    });
    refused(r, taskId);
    this.host.kick();
  }

  async fail(taskId: string, leaseToken: number, failure: TaskFailure): Promise<{ willRetry: boolean }> {
    if (typeof failure?.message !== "string") {
      throw new DirigentError("INVALID_ARGUMENT", "a task failure needs a message");
    }
    const task = await this.host.store.getTask(taskId);
    if (!task) throw new DirigentError("TASK_NOT_FOUND", `task "${taskId}" not found`, { taskId });
    const error: ErrorInfo = { name: "TaskError", message: failure.message };
    if (failure.code) error.code = failure.code;
    if (failure.details !== undefined) error.details = failure.details;
    if (failure.retryable === false) error.terminal = true;
    const retryAt = await this.retryAt(task, error, failure.retryAfterMs);
    const r = await this.host.batcher.submit({
      type: "failTask",
      taskId,
      leaseToken,
      errorJson: JSON.stringify(error),
      retryAt,
      now: this.host.clock.now(),
    });
    refused(r, taskId);
    if (retryAt === undefined) this.host.kick();
    return { willRetry: retryAt !== undefined };
  }

  /** When the next attempt is due, or undefined when the task has failed for good. */
  private async retryAt(
    task: TaskRecord,
    error: ErrorInfo,
    retryAfterMs?: number,
  ): Promise<number | undefined> {
    if (error.terminal) return undefined;
    // After a retry of the run, the policy counts only the attempts of the current round (the entry knows).
    const entry = await this.host.store.getEntry(task.runId, task.seq);
    const attempt = task.attempt - attemptsBeforeRound(entry?.detail);
    const decision = decideRetry(task.retry, attempt, new Error(error.message), this.host.random());
    if (!decision.retry) return undefined;
    const delay = Math.max(decision.delayMs, retryAfterMs ?? 0);
    return this.host.clock.now() + delay;
  }

  /**
   * Take back tasks whose lease ran out (the worker died or stopped heartbeating): retried under their
   * policy, on any worker. Tasks that waited too long for a worker fail with TASK_TIMEOUT.
   */
  async sweep(): Promise<number> {
    const now = this.host.clock.now();
    const expired = await this.host.store.expiredTasks({ now, limit: 200 });
    for (const task of expired) {
      const leased = task.status === "leased";
      const error: ErrorInfo = {
        name: "TaskTimeoutError",
        code: "TASK_TIMEOUT",
        message: leased
          ? `attempt ${task.attempt} of task "${task.name}" timed out: no completion or heartbeat before its lease ran out`
          : `task "${task.name}" waited longer than its schedule-to-start timeout for a worker`,
      };
      if (!leased) error.terminal = true;
      const retryAt = await this.retryAt(task, error);
      const r = await this.host.batcher.submit({
        type: "failTask",
        taskId: task.taskId,
        leaseToken: task.leaseToken,
        errorJson: JSON.stringify(error),
        retryAt,
        expired: true,
        now,
      });
      if (r.ok && retryAt !== undefined) this.notify(task.queue);
    }
    if (expired.length) this.host.kick();
    return expired.length;
  }

  async describe(queue: string): Promise<QueueInfo> {
    checkQueue(queue);
    const info = await this.host.store.describeQueue(queue, this.host.clock.now());
    if (!info) throw new DirigentError("QUEUE_NOT_FOUND", `queue "${queue}" has never been used`, { queue });
    return info;
  }

  list(): Promise<QueueInfo[]> {
    return this.host.store.listQueues(this.host.clock.now());
  }

  async setLimits(
    queue: string,
    limits: { concurrency?: number | null; ratePerSecond?: number | null },
  ): Promise<void> {
    checkQueue(queue);
    const { concurrency, ratePerSecond } = limits;
    if (concurrency != null && (!Number.isInteger(concurrency) || concurrency < 1)) {
      throw new DirigentError("INVALID_ARGUMENT", "concurrency must be an integer >= 1 (or null for none)");
    }
    if (ratePerSecond != null && !(ratePerSecond > 0)) {
      throw new DirigentError("INVALID_ARGUMENT", "ratePerSecond must be > 0 (or null for none)");
    }
    await this.host.batcher.submit({ type: "setQueueLimits", queue, concurrency, ratePerSecond });
    this.notify(queue);
  }
}

function checkQueue(queue: unknown): asserts queue is string {
  if (typeof queue !== "string" || !QUEUE_NAME.test(queue)) {
    throw new DirigentError("INVALID_ARGUMENT", "queue must be 1-100 characters of letters, digits, . _ : -");
  }
}

function refused(r: WriteResult, taskId: string): void {
  if (r.ok) return;
  if (r.code === "TASK_NOT_FOUND")
    throw new DirigentError("TASK_NOT_FOUND", `task "${taskId}" not found`, { taskId });
  throw new DirigentError(
    "TASK_LEASE_EXPIRED",
    `task "${taskId}": this lease is no longer valid (it expired, was taken over, or the task finished)`,
    { taskId },
  );
}

function toLeased(t: TaskRecord): LeasedTask {
  return {
    taskId: t.taskId,
    leaseToken: t.leaseToken,
    queue: t.queue,
    name: t.name,
    runId: t.runId,
    input: t.input,
    attempt: t.attempt,
    idempotencyKey: t.taskId,
    leaseExpiresAt: t.leaseExpiresAt!,
    deadlineAt: (t.startedAt ?? 0) + t.startToCloseMs,
    heartbeatTimeoutMs: t.heartbeatTimeoutMs,
    traceparent: t.traceparent,
  };
}
