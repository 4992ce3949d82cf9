import type { StartOptions } from "../../client/client.js";
import {
  EmptyQuery,
  errorResponses,
  IdempotencyHeaders,
  SignalWithStartBody,
  SignalWithStartResultSchema,
  StartBody,
  StartResultSchema,
  WorkflowListSchema,
  WorkflowParams,
} from "../schemas.js";
import type { ServerState, ZodApp } from "../state.js";

/** GET /workflows, POST /workflows/:name/runs, POST /workflows/:name/signal-with-start. */
export function registerWorkflowRoutes(app: ZodApp, state: ServerState): void {
  const { client } = state;

  app.get(
    "/workflows",
    {
      schema: {
        tags: ["workflows"],
        summary: "List registered workflows and their versions",
        querystring: EmptyQuery,
        response: { 200: WorkflowListSchema, ...errorResponses() },
      },
    },
    async () => ({ workflows: await client.workflows() }),
  );

  app.post(
    "/workflows/:name/runs",
    {
      schema: {
        tags: ["runs"],
        summary: "Start a run",
        description:
          "The run id is the idempotency key of a start: the body's runId, else the Idempotency-Key header, " +
          "else a generated id. Starting an existing id returns that run (200, created false) unless " +
          'onConflict is "fail" (409 RUN_ALREADY_EXISTS). A new run answers 201.',
        params: WorkflowParams,
        headers: IdempotencyHeaders,
        querystring: EmptyQuery,
        body: StartBody,
        response: {
          200: StartResultSchema,
          201: StartResultSchema,
          ...errorResponses(404, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const options: StartOptions = {
        runId: body.runId ?? request.headers["idempotency-key"],
        onConflict: body.onConflict,
        version: body.version,
      };
      const result = await client.start(request.params.name, body.input, options);
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );

  app.post(
    "/workflows/:name/signal-with-start",
    {
      schema: {
        tags: ["runs"],
        summary: "Signal a run, starting it first if it does not exist",
        description:
          "Starts run `runId` of this workflow with `input` when no run has that id (an existing run is kept " +
          "as it is), then delivers the signal. 201 when the run was started, 200 when it existed. A run " +
          "that already finished cannot take the signal: 409 RUN_FINISHED.",
        params: WorkflowParams,
        querystring: EmptyQuery,
        body: SignalWithStartBody,
        response: {
          200: SignalWithStartResultSchema,
          201: SignalWithStartResultSchema,
          ...errorResponses(404, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { runId, signal, payload, input, version } = request.body;
      const started = await client.start(request.params.name, input, {
        runId,
        onConflict: "return",
        version,
      });
      const { signalId } = await client.signal(runId, signal, payload);
      return reply.code(started.created ? 201 : 200).send({ ...started, signalId });
    },
  );
}
