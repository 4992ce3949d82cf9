import { DirigentError } from "../../core/errors.js";
import { type RunRow, runFromRow } from "../rows.js";
import type { WriteOp, WriteResult } from "../store.js";

/**
 * The PostgreSQL side of the write operations. A batch travels as ONE JSON parameter to the stored
 * function `dirigent_apply` (migrations/001_init.sql), which applies every operation in order inside the
 * caller's transaction and returns one result per operation. So a batch of any size costs the same few
 * round trips; the per-operation SQL runs inside the server.
 */

/** The operation types the stored function knows; anything else is refused before it reaches the server. */
const SUPPORTED = new Set<string>([
  "createRun",
  "putEntry",
  "consumeSignal",
  "startChild",
  "suspendRun",
  "releaseRun",
  "completeRun",
  "deliverSignal",
  "requestCancel",
  "terminateRun",
  "retryRun",
  "scheduleTask",
  "completeTask",
  "failTask",
  "heartbeatTask",
  "setQueueLimits",
  "putDefinition",
  "createSchedule",
  "setSchedulePaused",
  "deleteSchedule",
  "advanceSchedule",
]);

/**
 * Open a transaction and apply a batch, in one message (the simple query protocol, so the batch is
 * inlined as a dollar-quoted literal rather than bound as a parameter). The transaction id comes back
 * with the results so a lost COMMIT reply can be resolved.
 */
export function beginAndApplySql(batchJson: string): string {
  return `BEGIN; SELECT txid_current()::text AS xid, dirigent_apply(${dollarQuote(batchJson)}::jsonb) AS results`;
}

/**
 * `text` as a dollar-quoted SQL literal: taken byte for byte, no escaping, with a tag the text does not
 * contain. (Only for text the store itself inlines; the server refuses NUL bytes in any text anyway.)
 */
export function dollarQuote(text: string): string {
  let tag = "dg";
  while (text.includes(`$${tag}$`)) tag = `dg${Math.random().toString(36).slice(2, 10)}`;
  return `$${tag}$${text}$${tag}$`;
}

/**
 * The batch as JSON: the operations as they are, except that error objects are encoded here, so the
 * stored text is exactly what the SQLite store stores (JSONB would reorder keys).
 */
export function encodeBatch(ops: WriteOp[]): string {
  return JSON.stringify(
    ops.map((op) => {
      if (!SUPPORTED.has(op.type)) {
        throw new DirigentError(
          "INTERNAL",
          `the PostgreSQL store does not support the "${op.type}" operation`,
        );
      }
      if (op.type === "completeRun") {
        return { ...op, error: undefined, errorJson: op.error ? JSON.stringify(op.error) : null };
      }
      if (op.type === "terminateRun") {
        const error = { name: "TerminatedError", message: op.reason, code: "RUN_TERMINATED", terminal: true };
        return { ...op, errorJson: JSON.stringify(error) };
      }
      if (op.type === "createSchedule") {
        const { input, ...schedule } = op.schedule;
        return {
          ...op,
          schedule: { ...schedule, inputJson: input === undefined ? null : JSON.stringify(input) },
        };
      }
      return op;
    }),
  );
}

interface RawResult {
  ok: boolean;
  code?: string;
  status?: string;
  runId?: string;
  created?: boolean;
  run?: RunRow;
  consumed?: boolean;
  payloadJson?: string | null;
  signalId?: number;
  cancelRequested?: boolean;
  leaseExpiresAt?: number;
  queue?: string;
  version?: number;
}

/** The function's JSON results to WriteResults (a run row to a RunRecord, a signal payload decoded). */
export function decodeResults(raw: RawResult[], expected: number): WriteResult[] {
  if (!Array.isArray(raw) || raw.length !== expected) {
    throw new DirigentError(
      "INTERNAL",
      `dirigent_apply returned ${raw?.length} results for ${expected} operations`,
    );
  }
  return raw.map((r): WriteResult => {
    if (!r.ok) {
      return {
        ok: false,
        code: r.code,
        ...(r.status ? { status: r.status } : {}),
        ...(r.runId ? { runId: r.runId } : {}),
      } as WriteResult;
    }
    const out: WriteResult & { ok: true } = { ok: true };
    if (r.created !== undefined) out.created = r.created;
    if (r.run) out.run = runFromRow(r.run);
    if (r.consumed !== undefined) out.consumed = r.consumed;
    if (r.consumed) out.payload = r.payloadJson == null ? null : JSON.parse(r.payloadJson);
    if (r.signalId !== undefined) out.signalId = Number(r.signalId);
    if (r.cancelRequested !== undefined) out.cancelRequested = r.cancelRequested;
    if (r.leaseExpiresAt !== undefined) out.leaseExpiresAt = Number(r.leaseExpiresAt);
    if (r.queue !== undefined) out.queue = r.queue;
    if (r.version !== undefined) out.version = Number(r.version);
    return out;
  });
}

/**
 * Claim due runs and runs whose lease expired. `FOR UPDATE SKIP LOCKED`: concurrent claimers (other
 * nodes, or a batch holding a run's row) pass over locked rows instead of waiting or double-claiming.
 * Runs whose lease expired come first (a dead node's runs were already under way, and failover should
 * take the lease time, not wait behind a backlog of new runs); then due runs, earliest first.
 * $1 now, $2 limit, $3 nodeId, $4 lease end.
 */
export const CLAIM_SQL = `
WITH due_wake AS (
  SELECT run_id, wake_at AS due FROM runs
  WHERE owner IS NULL AND wake_at IS NOT NULL AND wake_at <= $1
  ORDER BY wake_at LIMIT $2
  FOR UPDATE SKIP LOCKED
), due_lease AS (
  SELECT run_id, lease_expires_at AS due FROM runs
  WHERE owner IS NOT NULL AND lease_expires_at < $1
  ORDER BY lease_expires_at LIMIT $2
  FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT run_id, rank FROM (
    SELECT run_id, 0 AS rank, due FROM due_lease UNION ALL SELECT run_id, 1 AS rank, due FROM due_wake
  ) AS d ORDER BY rank, due LIMIT $2
)
UPDATE runs AS r SET owner = $3, fence = r.fence + 1, lease_expires_at = $4, wake_at = NULL, status = 'running',
  started_at = coalesce(r.started_at, $1), updated_at = $1
FROM picked WHERE r.run_id = picked.run_id
RETURNING r.*, txid_current()::text AS dirigent_xid, picked.rank = 0 AS dirigent_takeover,
  NOT EXISTS (SELECT 1 FROM journal AS j WHERE j.run_id = r.run_id) AS dirigent_no_journal`;

/**
 * `sql` with its parameters $1, $2, … written in as literals, so it can travel in one simple-protocol
 * message with its BEGIN. Only safe integers, strings and null qualify; undefined when a value does not
 * (the caller then binds parameters as usual).
 */
export function inlineParams(sql: string, values: unknown[]): string | undefined {
  const literals: string[] = [];
  for (const v of values) {
    if (v === null) literals.push("NULL");
    else if (typeof v === "number" && Number.isSafeInteger(v)) literals.push(String(v));
    else if (typeof v === "string") literals.push(dollarQuote(v));
    else return undefined;
  }
  return sql.replace(/\$(\d+)/g, (_, n: string) => literals[Number(n) - 1]);
}

/**
 * Renew this node's unexpired leases and report its runs with a cancel request, in one statement (the
 * second SELECT sees the rows as they were before the UPDATE, which changes neither owner nor
 * cancel_requested). Rows: the renewed runs (renewed true), then the runs with a cancel request.
 * $1 nodeId, $2 now, $3 lease end, $4 the run ids to renew and $5 their fences (null: all of this node's).
 */
export const RENEW_SQL = `
WITH renewed AS (
  UPDATE runs SET lease_expires_at = $3 WHERE owner = $1 AND lease_expires_at >= $2
    AND ($4::text[] IS NULL OR (run_id, fence) IN (SELECT * FROM unnest($4::text[], $5::bigint[])))
  RETURNING run_id
)
SELECT run_id, true AS renewed FROM renewed
UNION ALL
SELECT run_id, false AS renewed FROM runs WHERE owner = $1 AND cancel_requested`;

export const NEXT_WAKE_SQL = `
SELECT (SELECT min(wake_at) FROM runs WHERE owner IS NULL AND wake_at IS NOT NULL) AS w,
       (SELECT min(lease_expires_at) + 1 FROM runs WHERE owner IS NOT NULL) AS l,
       (SELECT min(next_fire_at) FROM schedules WHERE NOT paused) AS s`;

/** $1 queue, $2 workerId, $3 limit, $4 now (see dirigent_lease_tasks). */
export const LEASE_TASKS_SQL =
  "SELECT *, txid_current()::text AS dirigent_xid FROM dirigent_lease_tasks($1, $2, $3, $4)";

/** $1 now, $2 limit. */
export const EXPIRED_TASKS_SQL = `
(SELECT * FROM tasks WHERE status = 'leased' AND lease_expires_at < $1)
UNION ALL
(SELECT * FROM tasks WHERE status = 'queued' AND schedule_to_start_at IS NOT NULL AND schedule_to_start_at < $1)
LIMIT $2`;

/** Queue overview, every known queue or one ($1, may be null), at $2 = now; one round trip. */
export const QUEUES_SQL = `
WITH names AS (
  SELECT queue FROM queues UNION SELECT queue FROM workers UNION SELECT DISTINCT queue FROM tasks
), picked AS (
  SELECT queue FROM names WHERE $1::text IS NULL OR queue = $1::text
), counts AS (
  SELECT queue, count(*) FILTER (WHERE status = 'queued') AS queued, count(*) FILTER (WHERE status = 'leased') AS leased,
    min(available_at) FILTER (WHERE status = 'queued' AND available_at <= $2) AS oldest,
    count(*) FILTER (WHERE status = 'completed') AS done
  FROM tasks WHERE (status IN ('queued', 'leased') OR (status = 'completed' AND updated_at >= $2 - 60000))
    AND queue IN (SELECT queue FROM picked) GROUP BY queue
)
SELECT p.queue, coalesce(c.queued, 0) AS queued, coalesce(c.leased, 0) AS leased, c.oldest,
  coalesce(c.done, 0) AS done,
  q.concurrency, q.rate_per_s,
  coalesce((SELECT json_agg(json_build_object('workerId', w.worker_id, 'lastSeenAt', w.last_seen_at)
            ORDER BY w.worker_id) FROM workers AS w WHERE w.queue = p.queue), '[]') AS workers
FROM picked AS p
LEFT JOIN counts AS c ON c.queue = p.queue
LEFT JOIN queues AS q ON q.queue = p.queue`;

export const DUE_SCHEDULES_SQL = `
SELECT * FROM schedules WHERE NOT paused AND (next_fire_at <= $1 OR buffered_fire_at IS NOT NULL)
ORDER BY next_fire_at NULLS FIRST LIMIT $2`;

/** runStats: runs started per bucket. $1 since, $2 until, $3 bucketMs, $4 workflow or null. */
export const STATS_STARTED_SQL = `
SELECT (created_at - $1::bigint) / $3::bigint AS b, count(*) AS n FROM runs
WHERE created_at >= $1 AND created_at < $2 AND ($4::text IS NULL OR workflow = $4::text) GROUP BY 1`;

/** runStats: runs ended completed or failed per bucket. */
export const STATS_ENDED_SQL = `
SELECT (completed_at - $1::bigint) / $3::bigint AS b, count(*) FILTER (WHERE status = 'completed') AS completed,
  count(*) FILTER (WHERE status = 'failed') AS failed FROM runs
WHERE completed_at >= $1 AND completed_at < $2 AND ($4::text IS NULL OR workflow = $4::text) GROUP BY 1`;

/** runStats: a bounded sample of the most recent completed step and task durations. $1 since, $2 until, $3 workflow. */
export const STATS_DURATIONS_SQL = `
SELECT j.updated_at - j.started_at AS d FROM journal AS j
WHERE j.kind IN ('step', 'task') AND j.status = 'completed' AND j.updated_at >= $1 AND j.updated_at < $2
  AND ($3::text IS NULL OR j.run_id IN (SELECT run_id FROM runs WHERE workflow = $3::text))
ORDER BY j.updated_at DESC LIMIT 10000`;
