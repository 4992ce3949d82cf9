import { DirigentError } from "../../core/errors.js";
import type { LeasedTask } from "../../runtime/task-queues.js";
import {
  CompleteBody,
  CompleteResultSchema,
  EmptyQuery,
  errorResponses,
  FailBody,
  FailResultSchema,
  HeartbeatBody,
  HeartbeatResultSchema,
  MAX_FAILURE_MESSAGE_CHARS,
  PollBody,
  PollResultSchema,
  QueueInfoSchema,
  QueueLimitsBody,
  QueueListSchema,
  QueueParams,
  TaskParams,
} from "../schemas.js";
import { requireEngine, type ServerState, type ZodApp } from "../state.js";

/**
 * Queues (list, describe, limits) and the worker protocol (docs/workers.md): long-poll, heartbeat,
 * complete, fail. Queue administration goes through the client; the worker protocol is not part of
 * the client API and goes to the engine's task queues in this process.
 */
export function registerQueueRoutes(app: ZodApp, state: ServerState): void {
  const { client } = state;

  app.get(
    "/queues",
    {
      schema: {
        tags: ["queues"],
        summary: "List task queues: depth, leased tasks, workers seen, limits",
        querystring: EmptyQuery,
        response: { 200: QueueListSchema, ...errorResponses() },
      },
    },
    async () => ({ queues: await client.listQueues() }),
  );

  app.get(
    "/queues/:queue",
    {
      schema: {
        tags: ["queues"],
        summary: "Describe a task queue",
        description: "404 QUEUE_NOT_FOUND for a queue that no task, worker or limit has used.",
        params: QueueParams,
        querystring: EmptyQuery,
        response: { 200: QueueInfoSchema, ...errorResponses(404) },
      },
    },
    async (request) => client.describeQueue(request.params.queue),
  );

  app.put(
    "/queues/:queue/limits",
    {
      schema: {
        tags: ["queues"],
        summary: "Set a queue's concurrency and rate limits",
        description:
          "Replaces both limits: a field that is null or left out means no limit of that kind. " +
          "concurrency bounds the tasks leased at once; ratePerSecond the tasks leased per second " +
          "(a token bucket holding one second's worth). Answers with the queue as it is now.",
        params: QueueParams,
        querystring: EmptyQuery,
        body: QueueLimitsBody,
        response: { 200: QueueInfoSchema, ...errorResponses(415, 503) },
      },
    },
    async (request) => {
      const { queue } = request.params;
      await client.setQueueLimits(queue, {
        concurrency: request.body.concurrency ?? null,
        ratePerSecond: request.body.ratePerSecond ?? null,
      });
      return client.describeQueue(queue);
    },
  );

  app.post(
    "/queues/:queue/poll",
    {
      schema: {
        tags: ["workers"],
        summary: "Lease tasks of a queue (long-poll)",
        description:
          "Leases up to maxTasks ready tasks, highest priority first, within the queue's limits. When none " +
          "is ready it waits up to waitMs for one and answers an empty list if none came. A queue nobody " +
          "used yet is fine to poll. While the server shuts down, a waiting poll answers an empty list at " +
          "once and new polls get 503 ENGINE_STOPPED: poll again after a pause.",
        params: QueueParams,
        querystring: EmptyQuery,
        body: PollBody,
        response: { 200: PollResultSchema, ...errorResponses(415, 503) },
      },
    },
    async (request, reply) => {
      const engine = requireEngine(state, "the worker protocol");
      if (state.draining) {
        throw new DirigentError("ENGINE_STOPPED", "the server is shutting down: poll again later");
      }
      const { queue } = request.params;
      const { workerId, maxTasks, waitMs } = request.body;
      // The wait ends when the server drains, and when the worker hangs up (no one is left to hand to).
      const stop = new AbortController();
      const onDrain = () => stop.abort();
      const onClose = () => {
        if (!reply.raw.writableEnded) stop.abort();
      };
      state.drain.signal.addEventListener("abort", onDrain, { once: true });
      reply.raw.on("close", onClose);
      let tasks: LeasedTask[];
      try {
        tasks = await engine.tasks.poll({ queue, workerId, maxTasks, waitMs, signal: stop.signal });
      } finally {
        state.drain.signal.removeEventListener("abort", onDrain);
        reply.raw.off("close", onClose);
      }
      if (tasks.length > 0 && (reply.raw.destroyed || request.raw.socket?.destroyed)) {
        // Leased in the moment the worker hung up: hand the tasks back now (the attempt is spent, as it
        // would be when the lease ran out) instead of leaving them leased to nobody until then.
        await handBack(state, tasks, request.log);
        return { tasks: [] };
      }
      return { tasks };
    },
  );

  app.post(
    "/tasks/:taskId/heartbeat",
    {
      schema: {
        tags: ["workers"],
        summary: "Extend a task's lease; learn whether its run was cancelled",
        description:
          "Extends the lease by the task's heartbeat timeout (never past its start-to-close deadline). " +
          "cancelRequested true: the run was cancelled or ended, stop working. 409 TASK_LEASE_EXPIRED: " +
          "this lease is gone (it ran out, or the task was taken over or finished); stop and do not report.",
        params: TaskParams,
        querystring: EmptyQuery,
        body: HeartbeatBody,
        response: { 200: HeartbeatResultSchema, ...errorResponses(404, 409, 415, 503) },
      },
    },
    async (request) => {
      const engine = requireEngine(state, "the worker protocol");
      return engine.tasks.heartbeat(request.params.taskId, request.body.leaseToken);
    },
  );

  app.post(
    "/tasks/:taskId/complete",
    {
      schema: {
        tags: ["workers"],
        summary: "Complete a task with its result",
        description:
          "The result is stored durably before the answer and the run resumes with it. A completion whose " +
          "lease is no longer valid (it ran out and the task went to another worker, or the task already " +
          "finished) is refused with 409 TASK_LEASE_EXPIRED, so a run records one outcome per task.",
        params: TaskParams,
        querystring: EmptyQuery,
        body: CompleteBody,
        response: { 200: CompleteResultSchema, ...errorResponses(404, 409, 413, 415, 503) },
      },
    },
    async (request) => {
      const engine = requireEngine(state, "the worker protocol");
      await engine.tasks.complete(request.params.taskId, request.body.leaseToken, request.body.result);
      return { ok: true as const };
    },
  );

  app.post(
    "/tasks/:taskId/fail",
    {
      schema: {
        tags: ["workers"],
        summary: "Fail a task's attempt (retryable or for good)",
        description:
          "retryable false fails the task for good (the workflow sees STEP_FAILED); otherwise it is retried " +
          "under its policy after the backoff, or after retryAfterMs if that is longer. willRetry tells " +
          "which. The same fencing as complete: 409 TASK_LEASE_EXPIRED for a lease no longer valid.",
        params: TaskParams,
        querystring: EmptyQuery,
        body: FailBody,
        response: { 200: FailResultSchema, ...errorResponses(404, 409, 415, 503) },
      },
    },
    async (request) => {
      const engine = requireEngine(state, "the worker protocol");
      const { leaseToken, error } = request.body;
      const message =
        error.message.length > MAX_FAILURE_MESSAGE_CHARS
          ? `${error.message.slice(0, MAX_FAILURE_MESSAGE_CHARS)}…`
          : error.message;
      return engine.tasks.fail(request.params.taskId, leaseToken, { ...error, message });
    },
  );
}

/** Fail tasks leased to a worker that went away before it got them, so they are retried at once. */
async function handBack(
  state: ServerState,
  tasks: LeasedTask[],
  log: { warn(obj: object, msg: string): void },
): Promise<void> {
  const engine = requireEngine(state, "the worker protocol");
  for (const task of tasks) {
    try {
      await engine.tasks.fail(task.taskId, task.leaseToken, {
        message: "the worker hung up before the leased task reached it",
        code: "WORKER_GONE",
        retryAfterMs: 0,
      });
    } catch (error) {
      log.warn(
        { err: error, taskId: task.taskId },
        "could not hand back a task leased to a worker that left",
      );
    }
  }
}
