// Zod schemas of the HTTP API: they validate requests, type the handlers, and generate /openapi.json.
// Request schemas are strict (unknown fields and query parameters are refused with INVALID_ARGUMENT).
// Response schemas document the API; responses are serialized as plain JSON without re-validation, so
// a field added to a record later reaches clients instead of turning into a 500.
import { z } from "zod";
import { ENTRY_KINDS, OVERLAP_POLICIES, RUN_STATUSES, type RunStatus } from "../core/types.js";

/** Longest a result long-poll waits in one request; clients poll again for longer waits. */
export const MAX_RESULT_WAIT_MS = 60_000;
export const DEFAULT_RESULT_WAIT_MS = 30_000;

const name = (what: string) => z.string().min(1).max(200).describe(what);
const epochMs = z.number().describe("epoch milliseconds");

// ---- shared records -------------------------------------------------------------------------------

export const ErrorBodySchema = z
  .object({
    code: z.string().describe("stable error code (docs/errors.md)"),
    message: z.string(),
    details: z.unknown().optional(),
  })
  .describe("Every error response");

export const RunStatusSchema = z.enum(RUN_STATUSES);

export const ErrorInfoSchema = z.object({
  name: z.string(),
  message: z.string(),
  code: z.string().optional(),
  terminal: z.boolean().optional(),
  stack: z.string().optional(),
  details: z.unknown().optional(),
});

export const RunRecordSchema = z
  .object({
    runId: z.string(),
    workflow: z.string(),
    version: z.string(),
    status: RunStatusSchema,
    input: z.unknown(),
    output: z.unknown().optional(),
    error: ErrorInfoSchema.optional(),
    parentRunId: z.string().optional(),
    parentSeq: z.number().optional(),
    owner: z.string().optional(),
    fence: z.number(),
    leaseExpiresAt: epochMs.optional(),
    wakeAt: epochMs.optional(),
    cancelRequested: z.boolean(),
    deadlineAt: epochMs.optional(),
    createdAt: epochMs,
    startedAt: epochMs.optional(),
    updatedAt: epochMs,
    completedAt: epochMs.optional(),
  })
  .describe("A run");

const EntryDetailSchema = z.object({
  childRunId: z.string().optional(),
  childWorkflow: z.string().optional(),
  signalName: z.string().optional(),
  hasUndo: z.boolean().optional(),
  compensates: z.number().optional(),
  node: z.string().optional(),
  timedOut: z.boolean().optional(),
});

export const JournalEntrySchema = z.object({
  seq: z.number(),
  kind: z.enum(ENTRY_KINDS),
  name: z.string(),
  status: z.enum(["completed", "failed", "waiting", "retrying"]),
  attempt: z.number(),
  result: z.unknown().optional(),
  error: ErrorInfoSchema.optional(),
  wakeAt: epochMs.optional(),
  detail: EntryDetailSchema.optional(),
  startedAt: epochMs,
  updatedAt: epochMs,
});

export const AttemptRecordSchema = z.object({
  runId: z.string(),
  seq: z.number(),
  attempt: z.number(),
  startedAt: epochMs,
  endedAt: epochMs,
  error: ErrorInfoSchema,
  node: z.string().optional(),
});

export const SignalRecordSchema = z.object({
  id: z.number(),
  runId: z.string(),
  name: z.string(),
  payload: z.unknown(),
  receivedAt: epochMs,
  consumedSeq: z.number().optional(),
});

export const HistoryEventSchema = z.object({
  time: epochMs,
  type: z.string().describe("run:created, step:completed, signal:received, ..."),
  seq: z.number().optional(),
  kind: z.string().optional(),
  name: z.string().optional(),
  attempt: z.number().optional(),
  status: z.string().optional(),
  result: z.unknown().optional(),
  error: ErrorInfoSchema.optional(),
  wakeAt: epochMs.optional(),
  detail: z.unknown().optional(),
});

export const RunHistorySchema = z.object({
  run: RunRecordSchema,
  journal: z.array(JournalEntrySchema),
  attempts: z.array(AttemptRecordSchema),
  signals: z.array(SignalRecordSchema),
  events: z.array(HistoryEventSchema),
});

export const WorkflowInfoSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  latest: z.string(),
});

export const StartResultSchema = z.object({
  runId: z.string(),
  created: z.boolean().describe("false when a run with this id already existed and was returned"),
  workflow: z.string(),
  version: z.string(),
});

// ---- params -----------------------------------------------------------------------------------------

export const RunParams = z.strictObject({ id: name("run id (percent-encode / as %2F)") });
export const WorkflowParams = z.strictObject({ name: name("workflow name") });
export const SignalParams = z.strictObject({ id: name("run id"), name: name("signal name") });

// ---- bodies -----------------------------------------------------------------------------------------

export const StartBody = z
  .strictObject({
    input: z.unknown().optional().describe("the workflow's input (any JSON)"),
    runId: name("run id: the idempotency key of the start; generated when absent").optional(),
    onConflict: z
      .enum(["return", "fail"])
      .optional()
      .describe(
        '"return" (default): an existing run with this id is returned; "fail": 409 RUN_ALREADY_EXISTS',
      ),
    version: name("start this registered version instead of the latest").optional(),
  })
  .nullish();

export const IdempotencyHeaders = z.object({
  "idempotency-key": name("used as the run id when the body names none").optional(),
});

export const SignalBody = z.strictObject({ payload: z.unknown().optional() }).nullish();

export const SignalWithStartBody = z.strictObject({
  runId: name("the run to signal, started first when it does not exist"),
  signal: name("signal name"),
  payload: z.unknown().optional(),
  input: z.unknown().optional().describe("input of the run if it has to be started"),
  version: name("version to start, if the run has to be started").optional(),
});

export const TerminateBody = z.strictObject({ reason: z.string().max(1_000).optional() }).nullish();
export const EmptyBody = z.strictObject({}).nullish();

// ---- queries ----------------------------------------------------------------------------------------

const statusList = z
  .union([z.string(), z.array(z.string())])
  .describe(`comma-separated statuses: ${RUN_STATUSES.join(", ")}`)
  .transform((value, ctx) => {
    const parts = (Array.isArray(value) ? value : [value])
      .flatMap((v) => v.split(","))
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (parts.length === 0) {
      ctx.addIssue({ code: "custom", message: "name at least one status" });
      return z.NEVER;
    }
    for (const part of parts) {
      if (!(RUN_STATUSES as readonly string[]).includes(part)) {
        ctx.addIssue({
          code: "custom",
          message: `unknown status "${part}" (one of ${RUN_STATUSES.join(", ")})`,
        });
        return z.NEVER;
      }
    }
    return parts as RunStatus[];
  });

/** Epoch milliseconds or an ISO 8601 date-time. */
const timeParam = z
  .string()
  .describe("epoch milliseconds or an ISO 8601 date-time")
  .transform((value, ctx) => {
    const ms = /^\d{1,15}$/.test(value)
      ? Number(value)
      : /^\d{4}-\d\d-\d\d/.test(value)
        ? Date.parse(value)
        : NaN;
    if (!Number.isFinite(ms)) {
      ctx.addIssue({
        code: "custom",
        message: `"${value}" is neither epoch milliseconds nor an ISO date-time`,
      });
      return z.NEVER;
    }
    return ms;
  });

const intParam = (min: number, max: number, what: string) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `${what} must be a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .describe(what);

export const ListRunsQuery = z.strictObject({
  status: statusList.optional(),
  workflow: name("workflow name").optional(),
  createdAfter: timeParam.optional().describe("created at or after (epoch ms or ISO)"),
  createdBefore: timeParam.optional().describe("created before (epoch ms or ISO)"),
  q: z.string().min(1).max(200).optional().describe("text contained in the run id"),
  parentRunId: name("only children of this run").optional(),
  limit: intParam(1, 1_000, "page size (default 50)").optional(),
  cursor: z.string().min(1).max(1_000).optional().describe("nextCursor of the previous page"),
});

export const ResultQuery = z.strictObject({
  timeoutMs: intParam(0, 1_000_000_000, `how long to wait (capped at ${MAX_RESULT_WAIT_MS} ms)`).optional(),
});

export const EmptyQuery = z.strictObject({});

// ---- responses --------------------------------------------------------------------------------------

export const RunPageSchema = z.object({
  runs: z.array(RunRecordSchema),
  nextCursor: z.string().optional().describe("pass as cursor to get the next page; absent on the last"),
});

export const WorkflowListSchema = z.object({ workflows: z.array(WorkflowInfoSchema) });
export const SignalResultSchema = z.object({ signalId: z.number() });
export const SignalWithStartResultSchema = StartResultSchema.extend({ signalId: z.number() });
export const RunIdSchema = z.object({ runId: z.string() });
export const TerminateResultSchema = z.object({ runId: z.string(), status: z.literal("terminated") });

/** The error responses a route may give, documented once per status. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorBodySchema> {
  const out: Record<number, typeof ErrorBodySchema> = {};
  for (const s of [400, ...statuses]) out[s] = ErrorBodySchema;
  return out;
}

// ---- queues and the worker protocol ------------------------------------------------------------------

/** Queue names (as the engine checks them): 1-100 letters, digits, `. _ : -`, starting with a letter or digit. */
const queueName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/,
    "a queue name is 1-100 characters of letters, digits, . _ : - (starting with a letter or digit)",
  )
  .describe("queue name");

/** A lease's fencing token, as the poll handed it out. */
const leaseToken = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe("the task's leaseToken");

export const QueueParams = z.strictObject({ queue: queueName });
export const TaskParams = z.strictObject({
  taskId: z.string().min(1).max(300).describe("the task id `<runId>:<seq>` (percent-encoded)"),
});

export const QueueInfoSchema = z
  .object({
    queue: z.string(),
    queued: z.number().describe("tasks waiting for a worker (including ones waiting for a retry time)"),
    leased: z.number().describe("tasks leased to a worker now"),
    oldestQueuedAgeMs: z.number().describe("age of the oldest task ready to run (0 when none)"),
    completedLastMinute: z.number().describe("tasks completed in the last minute (throughput)"),
    workers: z
      .array(z.object({ workerId: z.string(), lastSeenAt: epochMs }))
      .describe("workers that polled this queue, with when they last did"),
    concurrency: z.number().optional().describe("most tasks leased at once; absent: no limit"),
    ratePerSecond: z.number().optional().describe("most tasks leased per second; absent: no limit"),
  })
  .describe("A task queue");

export const QueueListSchema = z.object({ queues: z.array(QueueInfoSchema) });

export const QueueLimitsBody = z.strictObject({
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .nullable()
    .optional()
    .describe("most tasks leased at once; null or absent: no limit"),
  ratePerSecond: z
    .number()
    .positive()
    .max(1_000_000)
    .nullable()
    .optional()
    .describe("most tasks leased per second; null or absent: no limit"),
});

export const PollBody = z.strictObject({
  workerId: name("the polling worker's id (shown in queue descriptions and attempts)"),
  maxTasks: z.number().int().min(1).max(100).optional().describe("most tasks to lease at once (default 1)"),
  waitMs: z
    .number()
    .int()
    .min(0)
    .max(60_000)
    .optional()
    .describe("long-poll: how long to wait for a task when none is ready (default 0)"),
});

export const LeasedTaskSchema = z
  .object({
    taskId: z.string().describe("`<runId>:<seq>`; percent-encode it in paths"),
    leaseToken: z.number().describe("fencing token: heartbeat, complete and fail must carry it"),
    queue: z.string(),
    name: z.string().describe("the task's name in the workflow"),
    runId: z.string(),
    input: z.unknown(),
    attempt: z.number().describe("1 for the first attempt"),
    idempotencyKey: z.string().describe("the same on every attempt; pass it on to the services you call"),
    leaseExpiresAt: epochMs.describe("the lease runs out then unless a heartbeat extends it"),
    deadlineAt: epochMs.describe("the attempt must finish by then whatever the heartbeats (start-to-close)"),
    heartbeatTimeoutMs: z.number().optional().describe("when set, heartbeat at least this often"),
    traceparent: z.string().optional(),
  })
  .describe("A task leased to a worker");

export const PollResultSchema = z.object({
  tasks: z.array(LeasedTaskSchema).describe("empty when no task came within waitMs"),
});

export const HeartbeatBody = z.strictObject({ leaseToken });
export const HeartbeatResultSchema = z.object({
  cancelRequested: z.boolean().describe("the run was cancelled or ended: stop working on the task"),
  leaseExpiresAt: epochMs.optional().describe("the lease now runs out then"),
});

export const CompleteBody = z.strictObject({
  leaseToken,
  result: z.unknown().optional().describe("the task's result (any JSON); what ctx.task returns"),
});
export const CompleteResultSchema = z.object({ ok: z.literal(true) });

/** Longest failure message kept; longer ones are cut (a worker's report is never refused for its length). */
export const MAX_FAILURE_MESSAGE_CHARS = 10_000;

export const FailBody = z.strictObject({
  leaseToken,
  error: z.strictObject({
    message: z.string().describe(`what went wrong (cut to ${MAX_FAILURE_MESSAGE_CHARS} characters)`),
    code: z.string().max(200).optional().describe("the worker's own error code"),
    retryable: z
      .boolean()
      .optional()
      .describe("false: fail the task for good (the workflow sees STEP_FAILED); default true"),
    retryAfterMs: z
      .number()
      .int()
      .min(0)
      .max(31_536_000_000)
      .optional()
      .describe("retry no earlier than this (a floor on the policy's backoff)"),
    details: z.unknown().optional().describe("anything else worth keeping (any JSON)"),
  }),
});
export const FailResultSchema = z.object({
  willRetry: z.boolean().describe("true: the task goes back to the queue for another attempt"),
});

// ---- schedules --------------------------------------------------------------------------------------

export const ScheduleParams = z.strictObject({ id: name("schedule id") });

export const ScheduleBody = z.strictObject({
  scheduleId: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/,
      "a schedule id is 1-100 characters of letters, digits, . _ : - (starting with a letter or digit)",
    )
    .describe("the schedule's id; its runs are named `<scheduleId>@<ISO fire time>`"),
  cron: z
    .string()
    .min(1)
    .max(200)
    .describe("five or six field cron expression (croner syntax); an invalid one is 400 INVALID_CRON"),
  timezone: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe("IANA time zone the cron is read in (default UTC)"),
  workflow: name("the workflow each fire starts"),
  input: z.unknown().optional().describe("input of every run it starts (any JSON)"),
  overlap: z
    .enum(OVERLAP_POLICIES)
    .optional()
    .describe(
      "a fire while the previous run still goes: skip (default), buffer_one (start it when that run ends), allow_all",
    ),
  catchupWindowMs: z
    .number()
    .int()
    .min(0)
    .max(31_536_000_000)
    .optional()
    .describe("fires missed while no node ran are made up only if at most this old (default 60,000)"),
  paused: z.boolean().optional().describe("create it paused (default false)"),
});

export const ScheduleRecordSchema = z
  .object({
    scheduleId: z.string(),
    workflow: z.string(),
    input: z.unknown(),
    cron: z.string(),
    timezone: z.string(),
    overlap: z.enum(OVERLAP_POLICIES),
    catchupWindowMs: z.number(),
    paused: z.boolean(),
    nextFireAt: epochMs
      .optional()
      .describe(
        "the next fire; absent while paused (resume computes the first one after now) and when the expression never fires again",
      ),
    lastFireAt: epochMs.optional(),
    lastRunId: z.string().optional(),
    bufferedFireAt: epochMs.optional().describe("buffer_one: a fire waiting for the running one to end"),
    createdAt: epochMs,
    updatedAt: epochMs,
  })
  .describe("A cron schedule");

export const ScheduleListSchema = z.object({ schedules: z.array(ScheduleRecordSchema) });
export const ScheduleDeletedSchema = z.object({ scheduleId: z.string(), deleted: z.literal(true) });

// ---- stats and events -------------------------------------------------------------------------------

export const StatsQuery = z.strictObject({
  since: timeParam.optional().describe("window start, epoch ms or ISO (default: an hour before until)"),
  until: timeParam.optional().describe("window end (exclusive), epoch ms or ISO (default: now)"),
  bucketMs: intParam(
    1,
    999_999_999,
    "bucket width in ms (default 60000; at least 1000; at most 1,000 buckets)",
  ).optional(),
  workflow: name("only runs of this workflow").optional(),
});

export const RunStatsSchema = z
  .object({
    bucketMs: z.number(),
    buckets: z
      .array(z.object({ t: epochMs, started: z.number(), completed: z.number(), failed: z.number() }))
      .describe("one per bucketMs from since: runs started, and runs that ended completed or failed, in it"),
    failureRate: z
      .number()
      .nullable()
      .describe("share of the runs that ended in the window that failed (0..1); null when none ended"),
    stepLatencyMs: z
      .object({
        count: z.number(),
        p50: z.number().nullable(),
        p95: z.number().nullable(),
        p99: z.number().nullable(),
      })
      .describe("duration of completed steps and tasks in the window (first attempt start to completion)"),
  })
  .describe("Run counts over time, failure rate and step latency");

export const EventsQuery = z.strictObject({
  runId: name("only events of this run").optional(),
});

// ---- declarative definitions ----------------------------------------------------------------------

export const DefinitionBody = z.strictObject({
  source: z.string().min(1).max(1_000_000).describe("the YAML or JSON text of the definition"),
  file: z.string().max(500).optional().describe("a file name to name in validation errors"),
  format: z.enum(["yaml", "json"]).optional().describe("default: from the file name, else YAML"),
});
export const DefinitionParams = z.strictObject({ name: name("definition name") });
export const DefinitionQuery = z.strictObject({
  version: z.coerce.number().int().min(1).optional().describe("a stored version (default: the latest)"),
});
const GraphSchema = z.object({
  name: z.string(),
  nodes: z.array(z.object({ id: z.string(), kind: z.string(), label: z.string() })),
  edges: z.array(z.object({ from: z.string(), to: z.string(), label: z.string().optional() })),
});
export const DeployResultSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  created: z.boolean().describe("false when the latest version already had exactly this source"),
  graph: GraphSchema,
});
const DefinitionSummarySchema = z.object({
  name: z.string(),
  version: z.number().int(),
  format: z.enum(["yaml", "json"]),
  checksum: z.string(),
  createdAt: epochMs,
});
export const DefinitionListSchema = z.object({ definitions: z.array(DefinitionSummarySchema) });
export const DefinitionSchema = DefinitionSummarySchema.extend({ source: z.string(), graph: GraphSchema });
export { GraphSchema };
