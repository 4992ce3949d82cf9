import type pg from "pg";
import { DirigentError } from "../../core/errors.js";

/**
 * Transactions with retries, and the hard case of a COMMIT whose reply was lost.
 *
 * A transaction that failed before its COMMIT was sent did not commit: the server rolls back what a
 * vanished client left open. So on a transient error (connection lost, serialization failure, deadlock,
 * server shutting down) the whole transaction is simply run again. But when the connection fails while
 * the COMMIT is in flight, the transaction may or may not have committed, and running it again could
 * apply a batch twice (a second signal, a second claim). Each transaction therefore reads its own id
 * (`txid_current()`) before committing; after an ambiguous failure `txid_status(id)` on another
 * connection says what happened: committed (return the results we already hold), aborted (run it again),
 * or still in progress (wait; if it stays so, the old backend is waiting for a COMMIT that never arrived:
 * terminate it, which aborts it). Only if the server stays unreachable is the outcome reported unknown.
 */

export type FaultPoint = "batch:before-commit" | "batch:after-commit";
export type FaultHook = (point: FaultPoint, info: { pid: number }) => void | Promise<void>;

const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
]);
const TRANSIENT_NODE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EAI_AGAIN",
]);
const TRANSIENT_MESSAGE =
  /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect/i;

/** Whether running the same transaction again may succeed. */
export function isTransient(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e.code === "string" && (TRANSIENT_SQLSTATES.has(e.code) || TRANSIENT_NODE_CODES.has(e.code)))
    return true;
  return typeof e.message === "string" && TRANSIENT_MESSAGE.test(e.message);
}

export const MAX_ATTEMPTS = 5;

/** 50, 100, 200, 400 ms (capped at 2 s), with jitter so retrying nodes do not collide again. */
export function backoffMs(attempt: number): number {
  const base = Math.min(50 * 2 ** (attempt - 1), 2_000);
  return base / 2 + Math.random() * (base / 2);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Run `work` in a transaction, retrying transient failures. `work` returns its value and, when it wrote
 * something, the transaction id (`txid_current()`), which makes a lost COMMIT reply resolvable.
 *
 * With `beginInWork`, `work` opens the transaction itself, in the same message as its statement
 * (`BEGIN; SELECT …`, the simple query protocol): a transaction then costs two round trips instead of
 * three. The COMMIT stays a message of its own, sent only once `work` holds its results and the
 * transaction id, so a lost COMMIT reply is resolved exactly as before.
 */
export async function transact<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<{ value: T; xid?: string }>,
  fault?: FaultHook,
  options: { beginInWork?: boolean } = {},
): Promise<T> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) await sleep(backoffMs(attempt - 1));
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      if (!isTransient(error)) throw error;
      lastError = error;
      continue;
    }
    const pid = (client as unknown as { processID: number }).processID;
    let outcome: { value: T; xid?: string };
    try {
      if (!options.beginInWork) await client.query("BEGIN");
      outcome = await work(client);
      if (fault) await fault("batch:before-commit", { pid });
    } catch (error) {
      // Not committed: the server rolls back when the connection goes. Never reuse this connection.
      client.release(true);
      if (!isTransient(error)) throw error;
      lastError = error;
      continue;
    }
    try {
      await client.query("COMMIT");
      if (fault) await fault("batch:after-commit", { pid });
      client.release();
      return outcome.value;
    } catch (error) {
      client.release(true);
      if (outcome.xid !== undefined) {
        const status = await commitStatus(pool, outcome.xid, pid);
        if (status === "committed") return outcome.value;
        if (status === "unknown") {
          throw new DirigentError(
            "INTERNAL",
            `the outcome of a commit is unknown (transaction ${outcome.xid}): ${(error as Error).message}`,
            { xid: outcome.xid },
          );
        }
      }
      if (!isTransient(error)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/** Retry an idempotent single statement (reads, lease renewal) on transient failures. */
export async function queryWithRetry<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isTransient(error)) throw error;
      await sleep(backoffMs(attempt));
    }
  }
}

/** What became of transaction `xid` whose COMMIT reply was lost (its backend was `pid`). */
export async function commitStatus(
  pool: pg.Pool,
  xid: string,
  pid: number,
): Promise<"committed" | "aborted" | "unknown"> {
  for (let attempt = 1; attempt <= 12; attempt++) {
    try {
      const { rows } = await pool.query<{ status: string | null }>(
        "SELECT txid_status($1::bigint) AS status",
        [xid],
      );
      const status = rows[0]?.status;
      if (status === "committed" || status === "aborted") return status;
      if (status !== "in progress") return "unknown"; // too old to tell (not expected seconds later)
      if (attempt >= 3) {
        // Still open: its backend never got our COMMIT and waits for a client that is gone. Ending that
        // backend aborts the transaction. The xid check makes sure we end that session and no other.
        await pool.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE pid = $1 AND backend_xid = (($2::bigint % 4294967296)::text)::xid`,
          [pid, xid],
        );
      }
    } catch (error) {
      if (!isTransient(error)) return "unknown";
    }
    await sleep(Math.min(50 * 2 ** (attempt - 1), 1_000));
  }
  return "unknown";
}
