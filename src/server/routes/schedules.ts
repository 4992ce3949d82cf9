import { DEFAULT_MAX_PAYLOAD_BYTES, encodePayload } from "../../core/payload.js";
import {
  EmptyBody,
  EmptyQuery,
  errorResponses,
  RunIdSchema,
  ScheduleBody,
  ScheduleDeletedSchema,
  ScheduleListSchema,
  ScheduleParams,
  ScheduleRecordSchema,
} from "../schemas.js";
import type { ServerState, ZodApp } from "../state.js";

/** Cron schedules: create, list, describe, pause, resume, delete, trigger now. */
export function registerScheduleRoutes(app: ZodApp, state: ServerState): void {
  const { client } = state;
  const maxPayloadBytes = state.engine?.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;

  app.post(
    "/schedules",
    {
      schema: {
        tags: ["schedules"],
        summary: "Create a cron schedule",
        description:
          "Each fire starts a run of the workflow named `<scheduleId>@<ISO fire time>`, so a fire is never " +
          "doubled however many nodes see it. 400 INVALID_CRON for an expression or time zone croner does " +
          "not accept; 404 WORKFLOW_NOT_FOUND for a workflow this server does not run; 409 " +
          "SCHEDULE_ALREADY_EXISTS for an id in use.",
        querystring: EmptyQuery,
        body: ScheduleBody,
        response: { 201: ScheduleRecordSchema, ...errorResponses(404, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      // Every fire starts a run with this input: refuse one no run could take, now rather than at each fire.
      encodePayload(request.body.input, maxPayloadBytes, "schedule input");
      const schedule = await client.createSchedule(request.body);
      return reply.code(201).send(schedule);
    },
  );

  app.get(
    "/schedules",
    {
      schema: {
        tags: ["schedules"],
        summary: "List schedules",
        querystring: EmptyQuery,
        response: { 200: ScheduleListSchema, ...errorResponses() },
      },
    },
    async () => ({ schedules: await client.listSchedules() }),
  );

  app.get(
    "/schedules/:id",
    {
      schema: {
        tags: ["schedules"],
        summary: "Describe a schedule",
        params: ScheduleParams,
        querystring: EmptyQuery,
        response: { 200: ScheduleRecordSchema, ...errorResponses(404) },
      },
    },
    async (request) => client.getSchedule(request.params.id),
  );

  app.post(
    "/schedules/:id/pause",
    {
      schema: {
        tags: ["schedules"],
        summary: "Pause a schedule (it fires no more until resumed)",
        params: ScheduleParams,
        querystring: EmptyQuery,
        body: EmptyBody,
        response: { 200: ScheduleRecordSchema, ...errorResponses(404, 415) },
      },
    },
    async (request) => {
      await client.pauseSchedule(request.params.id);
      return client.getSchedule(request.params.id);
    },
  );

  app.post(
    "/schedules/:id/resume",
    {
      schema: {
        tags: ["schedules"],
        summary: "Resume a paused schedule from now on",
        description:
          "Fires that fell in the pause are not made up; the next fire is the first one after now.",
        params: ScheduleParams,
        querystring: EmptyQuery,
        body: EmptyBody,
        response: { 200: ScheduleRecordSchema, ...errorResponses(404, 415) },
      },
    },
    async (request) => {
      await client.resumeSchedule(request.params.id);
      return client.getSchedule(request.params.id);
    },
  );

  app.delete(
    "/schedules/:id",
    {
      schema: {
        tags: ["schedules"],
        summary: "Delete a schedule (runs it started are kept)",
        params: ScheduleParams,
        querystring: EmptyQuery,
        response: { 200: ScheduleDeletedSchema, ...errorResponses(404) },
      },
    },
    async (request) => {
      await client.deleteSchedule(request.params.id);
      return { scheduleId: request.params.id, deleted: true as const };
    },
  );

  app.post(
    "/schedules/:id/trigger",
    {
      schema: {
        tags: ["schedules"],
        summary: "Start a run of the schedule's workflow now",
        description:
          "Outside the cron rhythm: the schedule's own fire times are unchanged. The run id is " +
          "`<scheduleId>@manual-<ISO time>`.",
        params: ScheduleParams,
        querystring: EmptyQuery,
        body: EmptyBody,
        response: { 200: RunIdSchema, ...errorResponses(404, 409, 415, 503) },
      },
    },
    async (request) => client.triggerSchedule(request.params.id),
  );
}
