import type Database from "better-sqlite3";
import type { RunStatus } from "../../core/types.js";
import { type RunRow, runFromRow } from "../rows.js";
import type { EncodedEntry, NewRun, WriteFailure, WriteOp, WriteResult } from "../store.js";
import { SqliteTaskOps } from "./sqlite-task-ops.js";

const TERMINAL_SQL = "('completed','failed','cancelled','terminated')";
const isTerminal = (s: string) =>
  s === "completed" || s === "failed" || s === "cancelled" || s === "terminated";

/**
 * The SQLite implementation of each atomic transition. Every method runs inside the batch transaction
 * opened by SqliteStore.write, so it only issues statements; it never begins or commits.
 */
export class SqliteOps {
  private s!: ReturnType<SqliteOps["prepare"]>;

  readonly tasks: SqliteTaskOps;

  constructor(private readonly db: Database.Database) {
    this.tasks = new SqliteTaskOps(db, (runId, entry) => this.putEntry(runId, entry));
  }

  private prepare() {
    const db = this.db;
    return {
      runState: db.prepare("SELECT fence, status FROM runs WHERE run_id = ?"),
      getRun: db.prepare("SELECT * FROM runs WHERE run_id = ?"),
      insertRun: db.prepare(
        `INSERT INTO runs (run_id, workflow, version, status, input_json, parent_run_id, parent_seq, owner, fence,
           lease_expires_at, wake_at, deadline_at, created_at, started_at, updated_at)
         VALUES (@runId, @workflow, @version, @status, @inputJson, @parentRunId, @parentSeq, @owner, @fence,
           @leaseExpiresAt, @wakeAt, @deadlineAt, @now, @startedAt, @now)
         ON CONFLICT (run_id) DO NOTHING`,
      ),
      putEntry: db.prepare(
        `INSERT INTO journal (run_id, seq, kind, name, status, attempt, result_json, error_json, wake_at, detail_json,
           started_at, updated_at)
         VALUES (@runId, @seq, @kind, @name, @status, @attempt, @resultJson, @errorJson, @wakeAt, @detailJson,
           @startedAt, @updatedAt)
         ON CONFLICT (run_id, seq) DO UPDATE SET status = excluded.status, attempt = excluded.attempt,
           result_json = excluded.result_json, error_json = excluded.error_json, wake_at = excluded.wake_at,
           detail_json = excluded.detail_json, updated_at = excluded.updated_at`,
      ),
      putAttempt: db.prepare(
        `INSERT OR REPLACE INTO attempts (run_id, seq, attempt, started_at, ended_at, error_json, node)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      oldestSignal: db.prepare(
        `SELECT id, payload_json FROM signals WHERE run_id = ? AND name = ? AND consumed_seq IS NULL
         ORDER BY id LIMIT 1`,
      ),
      consumeSignal: db.prepare("UPDATE signals SET consumed_seq = ? WHERE id = ?"),
      completeSignalEntry: db.prepare(
        `INSERT INTO journal (run_id, seq, kind, name, status, attempt, result_json, detail_json, started_at, updated_at)
         VALUES (?, ?, 'signal', ?, 'completed', 0, ?, ?, ?, ?)
         ON CONFLICT (run_id, seq) DO UPDATE SET status = 'completed', result_json = excluded.result_json,
           wake_at = NULL, updated_at = excluded.updated_at`,
      ),
      insertSignal: db.prepare(
        "INSERT INTO signals (run_id, name, payload_json, received_at) VALUES (?, ?, ?, ?) RETURNING id",
      ),
      // An event for a run: make it due now (or keep an earlier due time). For an owned run this marks
      // "something arrived while you were busy"; suspendRun then keeps it due instead of sleeping.
      wake: db.prepare(
        `UPDATE runs SET wake_at = min(coalesce(wake_at, @now), @now) WHERE run_id = @runId
         AND status NOT IN ${TERMINAL_SQL}`,
      ),
      suspend: db.prepare(
        `UPDATE runs SET owner = NULL, lease_expires_at = NULL, status = 'waiting', updated_at = @now,
           wake_at = CASE WHEN wake_at IS NULL THEN @wakeAt WHEN @wakeAt IS NULL THEN wake_at
                          ELSE min(wake_at, @wakeAt) END
         WHERE run_id = @runId`,
      ),
      release: db.prepare(
        `UPDATE runs SET owner = NULL, lease_expires_at = NULL, wake_at = @now, updated_at = @now
         WHERE run_id = @runId`,
      ),
      complete: db.prepare(
        `UPDATE runs SET status = @status, output_json = @outputJson, error_json = @errorJson, owner = NULL,
           lease_expires_at = NULL, wake_at = NULL, completed_at = @now, updated_at = @now
         WHERE run_id = @runId RETURNING parent_run_id`,
      ),
      requestCancel: db.prepare(
        `UPDATE runs SET cancel_requested = 1, updated_at = @now, wake_at = min(coalesce(wake_at, @now), @now)
         WHERE run_id = @runId`,
      ),
      terminate: db.prepare(
        `UPDATE runs SET status = 'terminated', error_json = @errorJson, owner = NULL, lease_expires_at = NULL,
           wake_at = NULL, fence = fence + 1, completed_at = @now, updated_at = @now
         WHERE run_id = @runId RETURNING parent_run_id`,
      ),
      // Runs whose owner's lease ran out come first: they were already running and a backlog of new
      // due runs must not delay their takeover.
      claimCandidates: db.prepare(
        `SELECT run_id, rank FROM (
           SELECT run_id, 1 AS rank, wake_at AS due FROM runs
             WHERE owner IS NULL AND wake_at IS NOT NULL AND wake_at <= @now
           UNION ALL
           SELECT run_id, 0 AS rank, lease_expires_at AS due FROM runs
             WHERE owner IS NOT NULL AND lease_expires_at < @now
         ) ORDER BY rank, due LIMIT @limit`,
      ),
      claim: db.prepare(
        `UPDATE runs SET owner = @nodeId, fence = fence + 1, lease_expires_at = @leaseUntil, wake_at = NULL,
           status = 'running', started_at = coalesce(started_at, @now), updated_at = @now
         WHERE run_id IN (SELECT value FROM json_each(@ids))
         RETURNING *`,
      ),
      // @runs: a JSON array of [runId, fence] pairs, or null for every run of the node.
      renew: db.prepare(
        `UPDATE runs SET lease_expires_at = @leaseUntil WHERE owner = @nodeId AND lease_expires_at >= @now
         AND (@runs IS NULL OR (run_id, fence) IN
           (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(@runs)))
         RETURNING run_id`,
      ),
      cancelRequested: db.prepare("SELECT run_id FROM runs WHERE owner = ? AND cancel_requested = 1"),
    };
  }

  private get st() {
    this.s ??= this.prepare();
    return this.s;
  }

  apply(op: WriteOp): WriteResult {
    switch (op.type) {
      case "createRun":
        return this.createRun(op.run, op.claim);
      case "putEntry": {
        const bad = this.checkFence(op.runId, op.fence);
        if (bad) return bad;
        this.putEntry(op.runId, op.entry);
        if (op.failedAttempt) {
          const a = op.failedAttempt;
          this.st.putAttempt.run(
            op.runId,
            a.seq,
            a.attempt,
            a.startedAt,
            a.endedAt,
            a.errorJson,
            a.node ?? null,
          );
        }
        return { ok: true };
      }
      case "consumeSignal": {
        const bad = this.checkFence(op.runId, op.fence);
        if (bad) return bad;
        const sig = this.st.oldestSignal.get(op.runId, op.signalName) as
          | { id: number; payload_json: string | null }
          | undefined;
        if (sig) {
          this.st.consumeSignal.run(op.seq, sig.id);
          const detail = JSON.stringify({ signalName: op.signalName, signalId: sig.id });
          const startedAt = op.waitingEntry?.startedAt ?? op.now;
          this.st.completeSignalEntry.run(
            op.runId,
            op.seq,
            op.name,
            sig.payload_json,
            detail,
            startedAt,
            op.now,
          );
          return {
            ok: true,
            consumed: true,
            payload: sig.payload_json === null ? null : JSON.parse(sig.payload_json),
          };
        }
        if (op.waitingEntry) this.putEntry(op.runId, op.waitingEntry);
        return { ok: true, consumed: false };
      }
      case "startChild": {
        const bad = this.checkFence(op.runId, op.fence);
        if (bad) return bad;
        this.putEntry(op.runId, op.entry);
        return this.createRun(op.child, op.claim);
      }
      case "suspendRun": {
        const bad = this.checkFence(op.runId, op.fence);
        if (bad) return bad;
        this.st.suspend.run({ runId: op.runId, wakeAt: op.wakeAt ?? null, now: op.now });
        return { ok: true };
      }
      case "releaseRun": {
        const bad = this.checkFence(op.runId, op.fence);
        if (bad) return bad;
        this.st.release.run({ runId: op.runId, now: op.now });
        return { ok: true };
      }
      case "completeRun": {
        const bad = this.checkFence(op.runId, op.fence);
        if (bad) return bad;
        const row = this.st.complete.get({
          runId: op.runId,
          status: op.status,
          outputJson: op.outputJson,
          errorJson: op.error ? JSON.stringify(op.error) : null,
          now: op.now,
        }) as { parent_run_id: string | null };
        if (row.parent_run_id) this.st.wake.run({ runId: row.parent_run_id, now: op.now });
        this.tasks.cancelRunTasks(op.runId, op.now);
        return { ok: true };
      }
      case "deliverSignal": {
        const bad = this.checkLive(op.runId);
        if (bad) return bad;
        const { id } = this.st.insertSignal.get(op.runId, op.name, op.payloadJson, op.now) as { id: number };
        this.st.wake.run({ runId: op.runId, now: op.now });
        return { ok: true, signalId: id };
      }
      case "requestCancel": {
        const bad = this.checkLive(op.runId);
        if (bad) return bad;
        this.st.requestCancel.run({ runId: op.runId, now: op.now });
        return { ok: true };
      }
      case "terminateRun": {
        const bad = this.checkLive(op.runId);
        if (bad) return bad;
        const error = { name: "TerminatedError", message: op.reason, code: "RUN_TERMINATED", terminal: true };
        const row = this.st.terminate.get({
          runId: op.runId,
          errorJson: JSON.stringify(error),
          now: op.now,
        }) as {
          parent_run_id: string | null;
        };
        if (row.parent_run_id) this.st.wake.run({ runId: row.parent_run_id, now: op.now });
        this.tasks.cancelRunTasks(op.runId, op.now);
        return { ok: true };
      }
      default:
        return this.tasks.apply(op);
    }
  }

  /** Claim due runs and expired leases (those first); `takeover` marks runs taken from an expired lease. */
  claim(args: {
    nodeId: string;
    limit: number;
    leaseMs: number;
    now: number;
  }): (RunRow & { takeover: boolean })[] {
    return this.db.transaction(() => {
      const picked = this.st.claimCandidates.all({ now: args.now, limit: args.limit }) as {
        run_id: string;
        rank: number;
      }[];
      if (picked.length === 0) return [];
      const takeovers = new Set(picked.filter((p) => p.rank === 0).map((p) => p.run_id));
      const rows = this.st.claim.all({
        nodeId: args.nodeId,
        leaseUntil: args.now + args.leaseMs,
        now: args.now,
        ids: JSON.stringify(picked.map((p) => p.run_id)),
      }) as RunRow[];
      return rows.map((r) => ({ ...r, takeover: takeovers.has(r.run_id) }));
    })();
  }

  renew(args: { nodeId: string; leaseMs: number; now: number; runs?: { runId: string; fence: number }[] }): {
    renewed: string[];
    cancelRequested: string[];
  } {
    return this.db.transaction(() => {
      const renewed = this.st.renew.all({
        nodeId: args.nodeId,
        leaseUntil: args.now + args.leaseMs,
        now: args.now,
        runs: args.runs ? JSON.stringify(args.runs.map((r) => [r.runId, r.fence])) : null,
      }) as { run_id: string }[];
      const rows = this.st.cancelRequested.all(args.nodeId) as { run_id: string }[];
      return { renewed: renewed.map((r) => r.run_id), cancelRequested: rows.map((r) => r.run_id) };
    })();
  }

  private createRun(run: NewRun, claim?: { nodeId: string; leaseMs: number }): WriteResult {
    const info = this.st.insertRun.run({
      runId: run.runId,
      workflow: run.workflow,
      version: run.version,
      status: claim ? "running" : "pending",
      inputJson: run.inputJson,
      parentRunId: run.parentRunId ?? null,
      parentSeq: run.parentSeq ?? null,
      owner: claim?.nodeId ?? null,
      fence: claim ? 1 : 0,
      leaseExpiresAt: claim ? run.now + claim.leaseMs : null,
      wakeAt: claim ? null : run.now,
      deadlineAt: run.deadlineAt ?? null,
      startedAt: claim ? run.now : null,
      now: run.now,
    });
    if (info.changes === 1) return { ok: true, created: true };
    const existing = this.st.getRun.get(run.runId) as RunRow;
    return { ok: true, created: false, run: runFromRow(existing) };
  }

  private putEntry(runId: string, e: EncodedEntry): void {
    this.st.putEntry.run({
      runId,
      seq: e.seq,
      kind: e.kind,
      name: e.name,
      status: e.status,
      attempt: e.attempt,
      resultJson: e.resultJson,
      errorJson: e.errorJson,
      wakeAt: e.wakeAt ?? null,
      detailJson: e.detailJson,
      startedAt: e.startedAt,
      updatedAt: e.updatedAt,
    });
  }

  /** The owner's precondition: the run exists, is not finished, and still carries our fencing token. */
  private checkFence(runId: string, fence: number): WriteFailure | undefined {
    const row = this.st.runState.get(runId) as { fence: number; status: string } | undefined;
    if (!row) return { ok: false, code: "RUN_NOT_FOUND" };
    if (row.fence !== fence) return { ok: false, code: "STALE_FENCE" };
    if (isTerminal(row.status)) return { ok: false, code: "RUN_FINISHED", status: row.status as RunStatus };
    return undefined;
  }

  /** A caller's precondition for events from outside: the run exists and is not finished. */
  private checkLive(runId: string): WriteFailure | undefined {
    const row = this.st.runState.get(runId) as { fence: number; status: string } | undefined;
    if (!row) return { ok: false, code: "RUN_NOT_FOUND" };
    if (isTerminal(row.status)) return { ok: false, code: "RUN_FINISHED", status: row.status as RunStatus };
    return undefined;
  }
}
