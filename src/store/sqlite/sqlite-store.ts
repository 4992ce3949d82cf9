import Database from "better-sqlite3";
import { DirigentError } from "../../core/errors.js";
import {
  type DefinitionRecord,
  type JournalEntry,
  type QueueInfo,
  RUN_STATUSES,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStats,
  type RunStatus,
  type ScheduleRecord,
  type TaskRecord,
} from "../../core/types.js";
import { migrateFolder } from "../migrations.js";
import {
  type AttemptRow,
  attemptFromRow,
  decodeCursor,
  encodeCursor,
  entryFromRow,
  type JournalRow,
  type RunRow,
  runFromRow,
  type SignalRow,
  signalFromRow,
} from "../rows.js";
import { assembleRunStats } from "../stats.js";
import type { Store, WriteOp, WriteResult } from "../store.js";
import { SqliteOps } from "./sqlite-ops.js";

export interface SqliteStoreOptions {
  /** Path of the database file (created if missing), or ":memory:" for throwaway tests. */
  path: string;
  /**
   * "full" (default): every committed transaction is on disk before the commit returns, so an
   * acknowledged start, signal or step survives power loss. "normal": in WAL mode a commit survives a
   * process crash but the last transactions may be lost on power loss or OS crash.
   */
  synchronous?: "full" | "normal";
}

/** The embedded default store: one SQLite file in WAL mode, written by one process. */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly db: Database.Database;
  private readonly ops: SqliteOps;
  private readonly applyBatch: (ops: WriteOp[]) => WriteResult[];
  private readonly stmt;
  private readonly leaseQueue: {
    args: { queue: string; workerId: string; limit: number; now: number };
    resolve: (tasks: TaskRecord[]) => void;
    reject: (err: unknown) => void;
  }[] = [];

  constructor(readonly options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
    this.db.pragma("busy_timeout = 5000");
    this.ops = new SqliteOps(this.db);
    // One transaction for the whole batch: one fsync covers every operation in it.
    this.applyBatch = this.db.transaction((ops: WriteOp[]) => ops.map((op) => this.ops.apply(op)));
    this.stmt = lazyStatements(this.db);
  }

  async migrate(): Promise<void> {
    const { Kysely, SqliteDialect } = await import("kysely");
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: this.db as any }) });
    await migrateFolder(kysely, new URL("./migrations/", import.meta.url), async (_tx, text) => {
      this.db.exec(text);
    });
    // Kysely's destroy would close our shared connection; we drop the instance without destroying it.
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async write(ops: WriteOp[]): Promise<WriteResult[]> {
    return this.applyBatch(ops);
  }

  async claimRuns(args: {
    nodeId: string;
    limit: number;
    leaseMs: number;
    now: number;
  }): Promise<RunRecord[]> {
    return this.ops
      .claim(args)
      .map((r) => (r.takeover ? { ...runFromRow(r), takeover: true } : runFromRow(r)));
  }

  async renewLeases(args: {
    nodeId: string;
    leaseMs: number;
    now: number;
    runs?: { runId: string; fence: number }[];
  }) {
    return this.ops.renew(args);
  }

  async nextWakeAt(): Promise<number | undefined> {
    const row = this.stmt().nextWake.get() as { w: number | null; l: number | null; s: number | null };
    const candidates = [row.w, row.l, row.s].filter((v): v is number => v !== null);
    return candidates.length ? Math.min(...candidates) : undefined;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = this.stmt().getRun.get(runId) as RunRow | undefined;
    return row ? runFromRow(row) : undefined;
  }

  async listRuns(filter: RunFilter): Promise<RunPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => "?").join(",")})`);
      params.push(...filter.status);
    }
    if (filter.workflow) {
      where.push("workflow = ?");
      params.push(filter.workflow);
    }
    if (filter.createdAfter !== undefined) {
      where.push("created_at >= ?");
      params.push(filter.createdAfter);
    }
    if (filter.createdBefore !== undefined) {
      where.push("created_at < ?");
      params.push(filter.createdBefore);
    }
    if (filter.idContains) {
      where.push("instr(run_id, ?) > 0");
      params.push(filter.idContains);
    }
    if (filter.parentRunId) {
      where.push("parent_run_id = ?");
      params.push(filter.parentRunId);
    }
    if (filter.cursor) {
      const c = decodeCursor(filter.cursor);
      if (!c) throw new DirigentError("INVALID_ARGUMENT", "cursor is not one this server issued");
      where.push("(created_at < ? OR (created_at = ? AND run_id < ?))");
      params.push(c[0], c[0], c[1]);
    }
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 1000);
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at DESC, run_id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, limit + 1) as RunRow[];
    const page = rows.slice(0, limit).map(runFromRow);
    const last = page[page.length - 1];
    return {
      runs: page,
      nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.runId) : undefined,
    };
  }

  async loadJournal(runId: string) {
    return (this.stmt().journal.all(runId) as JournalRow[]).map(entryFromRow);
  }

  async listAttempts(runId: string) {
    return (this.stmt().attempts.all(runId) as AttemptRow[]).map(attemptFromRow);
  }

  async listSignals(runId: string) {
    return (this.stmt().signals.all(runId) as SignalRow[]).map(signalFromRow);
  }

  async getEntry(runId: string, seq: number): Promise<JournalEntry | undefined> {
    const row = this.ops.tasks.getEntryRow(runId, seq) as JournalRow | undefined;
    return row ? entryFromRow(row) : undefined;
  }

  async leaseTasks(args: {
    queue: string;
    workerId: string;
    limit: number;
    now: number;
  }): Promise<TaskRecord[]> {
    // Group commit for leases: polls arriving in the same turn of the event loop (many workers long-
    // polling) are leased in one transaction, one fsync for all of them, each in its arrival order.
    return new Promise((resolve, reject) => {
      this.leaseQueue.push({ args, resolve, reject });
      if (this.leaseQueue.length === 1) setImmediate(() => this.flushLeases());
    });
  }

  private flushLeases(): void {
    const batch = this.leaseQueue.splice(0);
    let results: TaskRecord[][];
    try {
      results = this.db.transaction(() => batch.map((b) => this.ops.tasks.leaseTasks(b.args)))();
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    batch.forEach((b, i) => {
      b.resolve(results[i]);
    });
  }

  async getTask(taskId: string): Promise<TaskRecord | undefined> {
    return this.ops.tasks.getTask(taskId);
  }

  async expiredTasks(args: { now: number; limit: number }): Promise<TaskRecord[]> {
    return this.ops.tasks.expiredTasks(args.now, args.limit);
  }

  async describeQueue(queue: string, now: number): Promise<QueueInfo | undefined> {
    if (!this.ops.tasks.queueExists(queue)) return undefined;
    return this.ops.tasks.describeQueues(queue, now)[0];
  }

  async listQueues(now: number): Promise<QueueInfo[]> {
    return this.ops.tasks.describeQueues(null, now);
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    return this.ops.tasks.getSchedule(scheduleId);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.ops.tasks.listSchedules();
  }

  async dueSchedules(args: { now: number; limit: number }): Promise<ScheduleRecord[]> {
    return this.ops.tasks.dueSchedules(args.now, args.limit);
  }

  async getDefinition(name: string, version?: number): Promise<DefinitionRecord | undefined> {
    return this.ops.tasks.getDefinition(name, version);
  }

  async listDefinitions(): Promise<DefinitionRecord[]> {
    return this.ops.tasks.listDefinitions();
  }

  async runStats(args: {
    since: number;
    until: number;
    bucketMs: number;
    workflow?: string;
  }): Promise<RunStats> {
    const { since, until, bucketMs } = args;
    const wf = args.workflow ?? null;
    const started = this.db
      .prepare(
        `SELECT CAST((created_at - @since) / @bucketMs AS INTEGER) AS b, count(*) AS n FROM runs
         WHERE created_at >= @since AND created_at < @until AND (@wf IS NULL OR workflow = @wf) GROUP BY b`,
      )
      .all({ since, until, bucketMs, wf }) as { b: number; n: number }[];
    const ended = this.db
      .prepare(
        `SELECT CAST((completed_at - @since) / @bucketMs AS INTEGER) AS b, sum(status = 'completed') AS completed,
           sum(status = 'failed') AS failed FROM runs
         WHERE completed_at >= @since AND completed_at < @until AND (@wf IS NULL OR workflow = @wf) GROUP BY b`,
      )
      .all({ since, until, bucketMs, wf }) as { b: number; completed: number; failed: number }[];
    // A bounded sample of the most recent step durations is enough for percentiles on a chart.
    const durations = this.db
      .prepare(
        `SELECT j.updated_at - j.started_at AS d FROM journal j
         ${wf === null ? "" : "JOIN runs r ON r.run_id = j.run_id AND r.workflow = @wf"}
         WHERE j.kind IN ('step','task') AND j.status = 'completed' AND j.updated_at >= @since AND j.updated_at < @until
         ORDER BY j.updated_at DESC LIMIT 10000`,
      )
      .all({ since, until, wf }) as { d: number }[];
    return assembleRunStats({
      since,
      until,
      bucketMs,
      started,
      ended,
      durationsMs: durations.map((r) => Number(r.d)),
    });
  }

  async countRuns(filter: { workflow?: string } = {}): Promise<Record<RunStatus, number>> {
    const rows = (
      filter.workflow
        ? this.db
            .prepare("SELECT status, count(*) n FROM runs WHERE workflow = ? GROUP BY status")
            .all(filter.workflow)
        : this.db.prepare("SELECT status, count(*) n FROM runs GROUP BY status").all()
    ) as { status: RunStatus; n: number }[];
    const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }
}

/** Read statements, prepared on first use (after migrations created the tables). */
function lazyStatements(db: Database.Database) {
  let cached: ReturnType<typeof prepare> | undefined;
  const prepare = () => ({
    getRun: db.prepare("SELECT * FROM runs WHERE run_id = ?"),
    journal: db.prepare("SELECT * FROM journal WHERE run_id = ? ORDER BY seq"),
    attempts: db.prepare("SELECT * FROM attempts WHERE run_id = ? ORDER BY seq, attempt"),
    signals: db.prepare("SELECT * FROM signals WHERE run_id = ? ORDER BY id"),
    nextWake: db.prepare(
      `SELECT (SELECT min(wake_at) FROM runs WHERE owner IS NULL AND wake_at IS NOT NULL) AS w,
              (SELECT min(lease_expires_at) + 1 FROM runs WHERE owner IS NOT NULL) AS l,
              (SELECT min(next_fire_at) FROM schedules WHERE paused = 0) AS s`,
    ),
  });
  return () => {
    cached ??= prepare();
    return cached;
  };
}
