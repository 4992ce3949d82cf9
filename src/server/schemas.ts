// Zod schemas of the HTTP API: they validate requests, type the handlers, and generate /openapi.json.
// Request schemas are strict (unknown fields and query parameters are refused with INVALID_ARGUMENT).
// Response schemas document the API; responses are serialized as plain JSON without re-validation, so
// a field added to a record later reaches clients instead of turning into a 500.
import { z } from "zod";
import { ENTRY_KINDS, RUN_STATUSES, type RunStatus } from "../core/types.js";

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
