import { isDirigentError } from "../../core/errors.js";
import type { RunRecord } from "../../core/types.js";
import {
  DEFAULT_RESULT_WAIT_MS,
  EmptyBody,
  EmptyQuery,
  errorResponses,
  ListRunsQuery,
  MAX_RESULT_WAIT_MS,
  ResultQuery,
  RunHistorySchema,
  RunIdSchema,
  RunPageSchema,
  RunParams,
  RunRecordSchema,
  SignalBody,
  SignalParams,
  SignalResultSchema,
  TerminateBody,
  TerminateResultSchema,
} from "../schemas.js";
import type { ServerState, ZodApp } from "../state.js";

/** Everything under /runs: list, describe, history, result, signal, cancel, terminate, retry. */
export function registerRunRoutes(app: ZodApp, state: ServerState): void {
  const { client } = state;

  app.get(
    "/runs",
    {
      schema: {
        tags: ["runs"],
        summary: "List runs, newest first",
        description: "Filters combine with AND. Pass nextCursor as cursor for the next page.",
        querystring: ListRunsQuery,
        response: { 200: RunPageSchema, ...errorResponses() },
      },
    },
    async (request) => {
      const q = request.query;
      return client.list({
        status: q.status,
        workflow: q.workflow,
        createdAfter: q.createdAfter,
        createdBefore: q.createdBefore,
        idContains: q.q,
        parentRunId: q.parentRunId,
        limit: q.limit,
        cursor: q.cursor,
      });
    },
  );

  app.get(
    "/runs/:id",
    {
      schema: {
        tags: ["runs"],
        summary: "Describe a run",
        params: RunParams,
        querystring: EmptyQuery,
        response: { 200: RunRecordSchema, ...errorResponses(404) },
      },
    },
    async (request) => client.describe(request.params.id),
  );

  app.get(
    "/runs/:id/history",
    {
      schema: {
        tags: ["runs"],
        summary: "A run's journal, failed attempts, signals and merged event timeline",
        params: RunParams,
        querystring: EmptyQuery,
        response: { 200: RunHistorySchema, ...errorResponses(404) },
      },
    },
    async (request) => client.history(request.params.id),
  );

  app.get(
    "/runs/:id/result",
    {
      schema: {
        tags: ["runs"],
        summary: "Wait for a run to finish (long-poll)",
        description:
          `Waits up to timeoutMs (default ${DEFAULT_RESULT_WAIT_MS}, capped at ${MAX_RESULT_WAIT_MS}) for the ` +
          "run to reach a final status, then answers 200 with the run. When the wait ends first (or the " +
          "server begins shutting down) it also answers 200 with the run as it stands: check `status` and " +
          "poll again while it is not completed, failed, cancelled or terminated.",
        params: RunParams,
        querystring: ResultQuery,
        response: { 200: RunRecordSchema, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      const runId = request.params.id;
      const waitMs = Math.min(request.query.timeoutMs ?? DEFAULT_RESULT_WAIT_MS, MAX_RESULT_WAIT_MS);
      // A client that hung up (an aborted HttpClient.result) is waited for no longer.
      const abandoned = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) abandoned.abort();
      };
      reply.raw.once("close", onClose);
      try {
        return await waitForResult(state, runId, waitMs, abandoned.signal);
      } finally {
        reply.raw.off("close", onClose);
      }
    },
  );

  app.post(
    "/runs/:id/signals/:name",
    {
      schema: {
        tags: ["runs"],
        summary: "Send a signal to a run",
        description: "The signal is stored durably before the answer; a run that waits for it is woken.",
        params: SignalParams,
        querystring: EmptyQuery,
        body: SignalBody,
        response: { 200: SignalResultSchema, ...errorResponses(404, 409, 413, 415, 503) },
      },
    },
    async (request) => client.signal(request.params.id, request.params.name, request.body?.payload),
  );

  app.post(
    "/runs/:id/cancel",
    {
      schema: {
        tags: ["runs"],
        summary: "Ask a run to cancel (cooperative: it compensates, then ends cancelled)",
        params: RunParams,
        querystring: EmptyQuery,
        body: EmptyBody,
        response: { 202: RunIdSchema, ...errorResponses(404, 409, 415, 503) },
      },
    },
    async (request, reply) => {
      await client.cancel(request.params.id);
      return reply.code(202).send({ runId: request.params.id });
    },
  );

  app.post(
    "/runs/:id/terminate",
    {
      schema: {
        tags: ["runs"],
        summary: "Terminate a run at once (no compensation)",
        params: RunParams,
        querystring: EmptyQuery,
        body: TerminateBody,
        response: { 200: TerminateResultSchema, ...errorResponses(404, 409, 415, 503) },
      },
    },
    async (request) => {
      await client.terminate(request.params.id, request.body?.reason);
      return { runId: request.params.id, status: "terminated" as const };
    },
  );

  app.post(
    "/runs/:id/retry",
    {
      schema: {
        tags: ["runs"],
        summary: "Retry a failed run from its failed step",
        description:
          "The failed step and what followed it run again; completed steps before it are kept. 409 RUN_NOT_RETRYABLE unless the run failed and none of its compensations ran.",
        params: RunParams,
        querystring: EmptyQuery,
        body: EmptyBody,
        response: { 200: RunIdSchema.loose(), ...errorResponses(404, 409, 415, 503) },
      },
    },
    async (request) => {
      return client.retry(request.params.id);
    },
  );
}

/**
 * Wait up to `waitMs` for the run to finish; on timeout, or when the server starts draining, answer
 * with the run as it stands (the caller polls again). Unknown runs fail with RUN_NOT_FOUND at once.
 * When `abandoned` aborts (the client went away) the wait is dropped at once.
 */
async function waitForResult(
  state: ServerState,
  runId: string,
  waitMs: number,
  abandoned: AbortSignal,
): Promise<RunRecord> {
  const { client, drain } = state;
  if (state.draining) return client.describe(runId);
  try {
    return await client.result(runId, {
      timeoutMs: waitMs,
      signal: AbortSignal.any([drain.signal, abandoned]),
    });
  } catch (error) {
    const waitEnded = isDirigentError(error) && error.code === "RESULT_TIMEOUT";
    if (!waitEnded && !drain.signal.aborted && !abandoned.aborted) throw error;
    // Nobody reads the answer of an abandoned wait: fastify drops it, the describe is one cheap read.
    return client.describe(runId);
  }
}
