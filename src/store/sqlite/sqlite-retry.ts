import type Database from "better-sqlite3";
import type { RunStatus } from "../../core/types.js";
import type { WriteFailure, WriteResult } from "../store.js";

const UNDO_SEQ_BASE = 1_000_000_000;

/** A refusal found somewhere in the run tree: thrown to roll the savepoint back, then returned. */
class Refused extends Error {
  constructor(readonly result: WriteFailure) {
    super(result.code);
  }
}

/**
 * SQLite's retryRun (the same transition as dirigent_reopen_run in the PostgreSQL migrations). A failed
 * run goes back to pending from its first failed journal entry, keeping that entry's history: the entry
 * is reopened (a step as "retrying", due now; a task or a child wait as "waiting"), its failed attempts
 * stay, and a `retries` record in its detail tells the runtime where the new retry round starts. Entries
 * recorded after it are dropped and run again; tasks the run's ending cancelled are queued again. Failed
 * child runs the run would wait on again are retried too, recursively, so the parent waits on the
 * re-running child instead of replaying its failure.
 * Runs inside the batch transaction; a savepoint makes a refusal anywhere in the tree change nothing.
 */
export class SqliteRetry {
  private s!: ReturnType<SqliteRetry["prepare"]>;
  private readonly reopenTree: (runId: string, now: number) => void;

  constructor(private readonly db: Database.Database) {
    this.reopenTree = db.transaction((runId: string, now: number) => this.reopen(runId, now, true));
  }

  private prepare() {
    const db = this.db;
    // Appends {at, afterAttempt} to the entry's detail.retries (created on the first retry).
    const markRetry = `detail_json = json_insert(coalesce(detail_json, '{}'), '$.retries[#]',
      json_object('at', @now, 'afterAttempt', attempt)), updated_at = @now`;
    return {
      runState: db.prepare("SELECT status FROM runs WHERE run_id = ?"),
      completedUndos: db.prepare(
        `SELECT count(*) AS n FROM journal WHERE run_id = ? AND seq >= ${UNDO_SEQ_BASE} AND status = 'completed'`,
      ),
      firstFailed: db.prepare(
        `SELECT seq, kind, json_extract(detail_json, '$.childRunId') AS child FROM journal
         WHERE run_id = ? AND status = 'failed' AND seq < ${UNDO_SEQ_BASE} ORDER BY seq LIMIT 1`,
      ),
      // Children the replay would wait on again: those of child entries not completed, in seq order.
      openChildren: db.prepare(
        `SELECT json_extract(detail_json, '$.childRunId') AS child FROM journal
         WHERE run_id = ? AND kind = 'child' AND status <> 'completed' AND seq < ${UNDO_SEQ_BASE} ORDER BY seq`,
      ),
      reopenStep: db.prepare(
        `UPDATE journal SET status = 'retrying', wake_at = @now, ${markRetry} WHERE run_id = @runId AND seq = @seq`,
      ),
      reopenWait: db.prepare(
        `UPDATE journal SET status = 'waiting', wake_at = NULL, ${markRetry} WHERE run_id = @runId AND seq = @seq`,
      ),
      // Tasks left: the reopened one (failed) and those the run's ending cancelled. They go back to their
      // queue with their attempt count (a new lease token fences off old workers); a schedule-to-start
      // limit counts anew.
      requeueTasks: db.prepare(
        `UPDATE tasks SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, available_at = @now,
           schedule_to_start_at = @now + schedule_to_start_at - created_at, updated_at = @now
         WHERE run_id = @runId AND status IN ('failed','cancelled')`,
      ),
      dropFrom: db.prepare("DELETE FROM journal WHERE run_id = ? AND seq >= ?"),
      dropAttemptsFrom: db.prepare("DELETE FROM attempts WHERE run_id = ? AND seq >= ?"),
      dropTasksFrom: db.prepare("DELETE FROM tasks WHERE run_id = ? AND seq >= ?"),
      reopenRun: db.prepare(
        `UPDATE runs SET status = 'pending', error_json = NULL, output_json = NULL, completed_at = NULL,
           cancel_requested = 0, deadline_at = NULL, owner = NULL, lease_expires_at = NULL, wake_at = @now,
           updated_at = @now WHERE run_id = @runId`,
      ),
    };
  }

  private get st() {
    this.s ??= this.prepare();
    return this.s;
  }

  retryRun(runId: string, now: number): WriteResult {
    try {
      this.reopenTree(runId, now);
      return { ok: true };
    } catch (err) {
      if (err instanceof Refused) return err.result;
      throw err;
    }
  }

  /** Reopen one run, then the failed children it would wait on again. `top`: the run asked for. */
  private reopen(runId: string, now: number, top: boolean): void {
    const st = this.st;
    const run = st.runState.get(runId) as { status: RunStatus } | undefined;
    const blocked = (over: Partial<WriteFailure>): never => {
      throw new Refused({ ok: false, code: "RUN_NOT_RETRYABLE", ...(top ? {} : { runId }), ...over });
    };
    if (!run) throw new Refused({ ok: false, code: "RUN_NOT_FOUND" });
    if (run.status !== "failed") blocked({ status: run.status });
    if ((st.completedUndos.get(runId) as { n: number }).n > 0) blocked({});
    const children = (st.openChildren.all(runId) as { child: string | null }[]).map((r) => r.child);
    // Pending first: a child entry that leads back to this run finds it no longer failed.
    st.reopenRun.run({ runId, now });
    const first = st.firstFailed.get(runId) as
      | { seq: number; kind: string; child: string | null }
      | undefined;
    // No failed entry (a nondeterminism or timeout failure): the whole recorded journal is replayed.
    let dropFrom = first ? first.seq + 1 : UNDO_SEQ_BASE;
    if (first?.kind === "step") {
      st.reopenStep.run({ runId, seq: first.seq, now });
    } else if (
      first?.kind === "task" ||
      (first?.kind === "child" && first.child !== null && st.runState.get(first.child))
    ) {
      st.reopenWait.run({ runId, seq: first.seq, now });
    } else if (first) {
      // A signal that timed out (or a child that no longer exists) is asked for afresh by the replay.
      dropFrom = first.seq;
    }
    st.dropFrom.run(runId, dropFrom);
    st.dropAttemptsFrom.run(runId, dropFrom);
    st.dropTasksFrom.run(runId, dropFrom);
    st.requeueTasks.run({ runId, now });
    for (const child of new Set(children)) {
      if (child === null) continue;
      const c = st.runState.get(child) as { status: RunStatus } | undefined;
      if (c?.status === "failed") this.reopen(child, now, false);
      else if (c?.status === "cancelled" || c?.status === "terminated")
        throw new Refused({ ok: false, code: "RUN_NOT_RETRYABLE", runId: child, status: c.status });
    }
  }
}
