import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { Agent, request } from "undici";

/** A task as the server hands it to a worker (see docs/workers.md). */
export interface WorkerTask<I = unknown> {
  taskId: string;
  leaseToken: number;
  queue: string;
  name: string;
  runId: string;
  input: I;
  attempt: number;
  idempotencyKey: string;
  leaseExpiresAt: number;
  deadlineAt: number;
  heartbeatTimeoutMs?: number;
  traceparent?: string;
}

export interface TaskContext {
  /** Aborted when the run is cancelled or the worker stops. */
  signal: AbortSignal;
  /** Extend the lease now (heartbeats also go out on their own while the handler runs). */
  heartbeat(): Promise<void>;
}

/** Throw this from a handler to fail the task for good (no retry), or to ask for a later retry. */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly options: { retryable?: boolean; retryAfterMs?: number; code?: string; details?: unknown } = {},
  ) {
    super(message);
    this.name = "TaskFailure";
  }
}

export interface WorkerOptions<I, O> {
  /** Base address of a Dirigent server, e.g. http://127.0.0.1:7070 */
  url: string;
  queue: string;
  handler: (task: WorkerTask<I>, ctx: TaskContext) => Promise<O> | O;
  /** Tasks handled at once (default 1). */
  concurrency?: number;
  workerId?: string;
  /** Long-poll wait per request (default 20 s). */
  pollWaitMs?: number;
  /** Called with errors of the protocol itself (network, server); the worker keeps going. */
  onError?: (error: unknown) => void;
}

export interface Worker {
  readonly workerId: string;
  /** Stop polling; wait for handlers in progress to finish and report. */
  stop(): Promise<void>;
  /** Tasks completed and failed so far. */
  readonly stats: { completed: number; failed: number; lost: number };
}

/**
 * A worker that polls a queue over HTTP and runs `handler` for each task: the result completes the task,
 * a thrown error fails the attempt (retried under the task's policy unless it is a non-retryable
 * TaskFailure). Heartbeats keep the lease while the handler runs.
 *
 * @example
 * const worker = createWorker({
 *   url: "http://127.0.0.1:7070", queue: "shipping", concurrency: 4,
 *   handler: async (task) => ({ tracking: await makeLabel(task.input, task.idempotencyKey) }),
 * });
 * // later: await worker.stop();
 */
export function createWorker<I = unknown, O = unknown>(options: WorkerOptions<I, O>): Worker {
  const base = options.url.replace(/\/+$/, "");
  const workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: concurrency + 2 });
  const stopping = new AbortController();
  // Every task in progress and every poll listens to it: more than Node's default 10 at concurrency > 4.
  setMaxListeners(concurrency * 2 + 10, stopping.signal);
  const stats = { completed: 0, failed: 0, lost: 0 };
  const onError = options.onError ?? (() => {});

  async function call<T>(
    method: "POST" | "GET",
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: T }> {
    const res = await request(`${base}/api/v1${path}`, {
      method,
      dispatcher: agent,
      signal,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async function handle(task: WorkerTask<I>): Promise<void> {
    const path = `/tasks/${encodeURIComponent(task.taskId)}`;
    const cancel = new AbortController();
    const onStop = () => cancel.abort(new Error("worker stopping"));
    stopping.signal.addEventListener("abort", onStop, { once: true });
    const heartbeat = async () => {
      const r = await call<{ cancelRequested?: boolean }>("POST", `${path}/heartbeat`, {
        leaseToken: task.leaseToken,
      });
      if (r.status === 200 && r.body?.cancelRequested) cancel.abort(new Error("run cancelled"));
      if (r.status === 409) cancel.abort(new Error("lease lost"));
    };
    const every = task.heartbeatTimeoutMs
      ? Math.max(100, Math.floor(task.heartbeatTimeoutMs / 3))
      : undefined;
    const timer = every ? setInterval(() => heartbeat().catch(onError), every) : undefined;
    try {
      let outcome: { ok: true; value: O } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await options.handler(task, { signal: cancel.signal, heartbeat }) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      const r = outcome.ok
        ? await call("POST", `${path}/complete`, {
            leaseToken: task.leaseToken,
            result: outcome.value ?? null,
          })
        : await call("POST", `${path}/fail`, {
            leaseToken: task.leaseToken,
            error: describeFailure(outcome.error),
          });
      if (r.status === 200) outcome.ok ? stats.completed++ : stats.failed++;
      else stats.lost++;
    } finally {
      if (timer) clearInterval(timer);
      stopping.signal.removeEventListener("abort", onStop);
    }
  }

  async function loop(): Promise<void> {
    while (!stopping.signal.aborted) {
      try {
        const r = await call<{ tasks: WorkerTask<I>[] }>(
          "POST",
          `/queues/${encodeURIComponent(options.queue)}/poll`,
          {
            workerId,
            maxTasks: 1,
            waitMs: options.pollWaitMs ?? 20_000,
          },
          stopping.signal,
        );
        if (r.status !== 200) throw new Error(`poll answered ${r.status}: ${JSON.stringify(r.body)}`);
        for (const task of r.body.tasks) await handle(task);
      } catch (error) {
        if (stopping.signal.aborted) break;
        onError(error);
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  }

  const loops = Array.from({ length: concurrency }, () => loop());
  return {
    workerId,
    stats,
    async stop() {
      stopping.abort();
      await Promise.allSettled(loops);
      await agent.close();
    },
  };
}

function describeFailure(error: unknown) {
  if (error instanceof TaskFailure) {
    return { message: error.message, ...error.options };
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown })?.code;
  return { message, code: typeof code === "string" ? code : undefined, retryable: true };
}
