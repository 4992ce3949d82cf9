import { Kysely, sql } from "kysely";
import pg from "pg";
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
import {
  type DefinitionRow,
  definitionFromRow,
  type ScheduleRow,
  scheduleFromRow,
  type TaskRow,
  taskFromRow,
} from "../task-rows.js";
import { WakeupListener } from "./postgres-listener.js";
import {
  beginAndApplySql,
  CLAIM_SQL,
  DUE_SCHEDULES_SQL,
  decodeResults,
  EXPIRED_TASKS_SQL,
  encodeBatch,
  inlineParams,
  LEASE_TASKS_SQL,
  NEXT_WAKE_SQL,
  QUEUES_SQL,
  RENEW_SQL,
  STATS_DURATIONS_SQL,
  STATS_ENDED_SQL,
  STATS_STARTED_SQL,
} from "./postgres-ops.js";
import {
  optionsSchema,
  type PostgresStoreOptions,
  SchemaScopedDialect,
  withSchemaFromUrl,
} from "./postgres-options.js";
import { queryWithRetry, transact } from "./postgres-tx.js";

export type { PostgresStoreOptions };

/** How long the claim's "this run has no journal yet" stays usable (well within any lease). */
const EMPTY_JOURNAL_HINT_MS = 2_000;

// BIGINT (epoch ms, counts) as JS numbers instead of strings; exact up to 2^53, far beyond any time.
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20 && format !== "binary"
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as any,
};

/**
 * The store for many nodes sharing one PostgreSQL database. A write batch is one transaction that costs
 * two round trips whatever its size (BEGIN with one call of the stored function `dirigent_apply`, then
 * COMMIT);
 * concurrent claimers use `FOR UPDATE SKIP LOCKED`; transient failures are retried without ever applying a
 * batch twice (see postgres-tx.ts); batches that make a run due NOTIFY the other nodes.
 *
 * @example
 * const store = new PostgresStore({ connectionString: "postgres://postgres@127.0.0.1:5432/dirigent" });
 * const engine = createEngine({ store, workflows: [placeOrder] });
 * await engine.start(); // migrates, then claims and executes runs
 */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  readonly pool: pg.Pool;
  private readonly options: PostgresStoreOptions;
  private readonly listener: WakeupListener;
  private schemaName: Promise<string> | undefined;
  private readonly counters = { roundTrips: 0, commits: 0 };
  /**
   * Runs this store just claimed whose journal was empty, with when that knowledge goes stale. The
   * claimer's first loadJournal of such a run needs no round trip: while the claim's lease holds, only
   * the claimer itself adds entries to the journal of a run that has none (a task's or a child's entry
   * is written into a journal that already holds the entry it resolves). A claim of many new runs
   * otherwise costs one query per run right after it. Used once; dropped by any write of this store
   * that names the run, and forgotten well before the lease could have passed to another node.
   */
  private readonly emptyJournals = new Map<string, number>();

  constructor(options: PostgresStoreOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`);
      throw new DirigentError("INVALID_OPTIONS", `invalid PostgreSQL store options: ${issues.join("; ")}`, {
        issues,
      });
    }
    this.options = withSchemaFromUrl(parsed.data);
    const base: pg.ClientConfig = {
      connectionString: this.options.connectionString,
      // The schema is set once per connection, at connection start-up: no statement per query.
      options: this.options.schema ? `-c search_path=${this.options.schema}` : undefined,
      types,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 10_000,
      // TCP keepalive on every connection, so one whose peer vanished (a partition, a dead host) is
      // found out and fails rather than holding its query, or its place in the pool, for good.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    };
    // Named after the schema, so an operator can tell installations apart in pg_stat_activity.
    const suffix = this.options.schema ? `:${this.options.schema}` : "";
    this.pool = new pg.Pool({
      ...base,
      application_name: `dirigent${suffix}`,
      max: this.options.poolSize ?? 10,
    });
    // A connection that fails while idle in the pool is dropped by the pool; without a listener the
    // 'error' event would crash the process. Errors while in use surface through the failing query.
    this.pool.on("error", () => {});
    this.pool.on("connect", (client) => {
      client.on("error", () => {});
      // Count every message that waits for the server's reply (one query call, however many statements).
      const query = client.query;
      client.query = ((...args: unknown[]) => {
        this.counters.roundTrips++;
        return (query as (...a: unknown[]) => unknown).apply(client, args);
      }) as typeof client.query;
    });
    this.listener = new WakeupListener(
      {
        ...base,
        application_name: `dirigent-listener${suffix}`,
      },
      () => this.schema(),
    );
  }

  /** The schema the tables live in (the one named in the options, or the connection's default). */
  schema(): Promise<string> {
    this.schemaName ??= this.options.schema
      ? Promise.resolve(this.options.schema)
      : this.pool.query<{ s: string }>("SELECT current_schema() AS s").then(
          (r) => r.rows[0].s,
          (error) => {
            this.schemaName = undefined; // ask again next time
            throw error;
          },
        );
    return this.schemaName;
  }

  /**
   * What this store instance asked of the server so far: `roundTrips`, messages that waited for a reply
   * (the LISTEN connection's aside); `commits`, transactions that wrote and so waited for the WAL to reach
   * disk (write batches, claims that claimed, lease renewals, task leases that leased). For benchmarks.
   */
  stats(): { roundTrips: number; commits: number } {
    return { ...this.counters };
  }

  async migrate(): Promise<void> {
    const schema = this.options.schema;
    if (schema) {
      const client = await this.pool.connect();
      try {
        if (this.options.createSchema === false) {
          // Checked, never created: a mistyped schema is refused rather than made (nothing to race with).
          const found = await client.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", [
            schema,
          ]);
          if (found.rowCount === 0) {
            throw new DirigentError(
              "INVALID_OPTIONS",
              `schema "${schema}" does not exist (createSchema is false)`,
              { schema, reason: "schema-missing" },
            );
          }
        } else {
          // CREATE SCHEMA IF NOT EXISTS still fails when two sessions run it at once: serialize it.
          await client.query("BEGIN");
          await client.query("SELECT pg_advisory_xact_lock(hashtext('dirigent:create-schema'))");
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
          await client.query("COMMIT");
        }
        const { rows } = await client.query<{ s: string }>("SELECT current_schema() AS s");
        if (rows[0].s !== schema) {
          throw new DirigentError(
            "INVALID_OPTIONS",
            `connections use schema "${rows[0].s}", not "${schema}" (does the connection string set its own options?)`,
          );
        }
      } catch (error) {
        client.release(true);
        throw error;
      }
      client.release();
    }
    const db = new Kysely<any>({
      dialect: new SchemaScopedDialect({ pool: this.pool }, await this.schema()),
    });
    await migrateFolder(db, new URL("./migrations/", import.meta.url), async (tx, text) => {
      await sql.raw(text).execute(tx);
    });
    // Not db.destroy(): that would end the pool, which the store keeps using.
  }

  async close(): Promise<void> {
    await this.listener.close();
    if (!this.pool.ended) await this.pool.end();
  }

  async write(ops: WriteOp[]): Promise<WriteResult[]> {
    if (ops.length === 0) return [];
    if (this.emptyJournals.size) {
      for (const op of ops) if ("runId" in op) this.emptyJournals.delete(op.runId);
    }
    const text = beginAndApplySql(encodeBatch(ops));
    const raw = await transact(
      this.pool,
      async (client) => {
        // Two results: BEGIN's, then the row of the SELECT.
        const results = (await client.query(text)) as unknown as pg.QueryResult<{
          xid: string;
          results: any[];
        }>[];
        const row = results[1].rows[0];
        return { value: row.results, xid: row.xid };
      },
      this.options.faultPoint,
      { beginInWork: true },
    );
    this.counters.commits++;
    return decodeResults(raw, ops.length);
  }

  async claimRuns(args: {
    nodeId: string;
    limit: number;
    leaseMs: number;
    now: number;
  }): Promise<RunRecord[]> {
    if (args.limit <= 0) return [];
    type ClaimRow = RunRow & {
      dirigent_xid: string;
      dirigent_no_journal: boolean;
      dirigent_takeover: boolean;
    };
    const values = [args.now, args.limit, args.nodeId, args.now + args.leaseMs];
    // BEGIN and the claim in one message when the values can be written in (they always can with
    // integer clocks): one round trip less.
    const inline = inlineParams(CLAIM_SQL, values);
    const rows = await transact(
      this.pool,
      async (client) => {
        const rows = inline
          ? ((await client.query(`BEGIN; ${inline}`)) as unknown as pg.QueryResult<ClaimRow>[])[1].rows
          : (await client.query<ClaimRow>(CLAIM_SQL, values)).rows;
        // No row claimed means nothing written: a lost COMMIT reply then needs no resolving.
        return { value: rows, xid: rows[0]?.dirigent_xid };
      },
      this.options.faultPoint,
      { beginInWork: inline !== undefined },
    );
    if (rows.length) this.counters.commits++;
    this.noteEmptyJournals(
      rows.filter((r) => r.dirigent_no_journal).map((r) => r.run_id),
      Math.min(EMPTY_JOURNAL_HINT_MS, args.leaseMs / 2),
    );
    return rows.map((r) => (r.dirigent_takeover ? { ...runFromRow(r), takeover: true } : runFromRow(r)));
  }

  private noteEmptyJournals(runIds: string[], validMs: number): void {
    if (runIds.length === 0) return;
    const now = Date.now();
    if (this.emptyJournals.size > 10_000) {
      for (const [runId, staleAt] of this.emptyJournals) if (staleAt <= now) this.emptyJournals.delete(runId);
    }
    for (const runId of runIds) this.emptyJournals.set(runId, now + validMs);
  }

  async renewLeases(args: {
    nodeId: string;
    leaseMs: number;
    now: number;
    runs?: { runId: string; fence: number }[];
  }): Promise<{ renewed: string[]; cancelRequested: string[] }> {
    const { rows } = await queryWithRetry<{ run_id: string; renewed: boolean }>(this.pool, RENEW_SQL, [
      args.nodeId,
      args.now,
      args.now + args.leaseMs,
      args.runs?.map((r) => r.runId) ?? null,
      args.runs?.map((r) => r.fence) ?? null,
    ]);
    if (args.runs === undefined || args.runs.length > 0) this.counters.commits++;
    return {
      renewed: rows.filter((r) => r.renewed).map((r) => r.run_id),
      cancelRequested: rows.filter((r) => !r.renewed).map((r) => r.run_id),
    };
  }

  async nextWakeAt(): Promise<number | undefined> {
    const { rows } = await queryWithRetry<{ w: number | null; l: number | null; s: number | null }>(
      this.pool,
      NEXT_WAKE_SQL,
    );
    const candidates = [rows[0].w, rows[0].l, rows[0].s].filter((v): v is number => v !== null);
    return candidates.length ? Math.min(...candidates) : undefined;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const { rows } = await queryWithRetry<RunRow>(this.pool, "SELECT * FROM runs WHERE run_id = $1", [runId]);
    return rows[0] ? runFromRow(rows[0]) : undefined;
  }

  async listRuns(filter: RunFilter): Promise<RunPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (filter.status?.length) where.push(`status = ANY(${param(filter.status)}::text[])`);
    if (filter.workflow) where.push(`workflow = ${param(filter.workflow)}`);
    if (filter.createdAfter !== undefined) where.push(`created_at >= ${param(filter.createdAfter)}`);
    if (filter.createdBefore !== undefined) where.push(`created_at < ${param(filter.createdBefore)}`);
    if (filter.idContains) where.push(`strpos(run_id, ${param(filter.idContains)}) > 0`);
    if (filter.parentRunId) where.push(`parent_run_id = ${param(filter.parentRunId)}`);
    if (filter.cursor) {
      const c = decodeCursor(filter.cursor);
      if (!c) throw new DirigentError("INVALID_ARGUMENT", "cursor is not one this server issued");
      where.push(`(created_at, run_id) < (${param(c[0])}::bigint, ${param(c[1])}::text)`);
    }
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 1000);
    const text = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at DESC, run_id DESC LIMIT ${param(limit + 1)}`;
    const { rows } = await queryWithRetry<RunRow>(this.pool, text, params);
    const page = rows.slice(0, limit).map(runFromRow);
    const last = page[page.length - 1];
    return {
      runs: page,
      nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.runId) : undefined,
    };
  }

  async loadJournal(runId: string) {
    const staleAt = this.emptyJournals.get(runId);
    if (staleAt !== undefined) {
      this.emptyJournals.delete(runId);
      if (staleAt > Date.now()) return [];
    }
    const { rows } = await queryWithRetry<JournalRow>(
      this.pool,
      "SELECT * FROM journal WHERE run_id = $1 ORDER BY seq",
      [runId],
    );
    return rows.map(entryFromRow);
  }

  async listAttempts(runId: string) {
    const { rows } = await queryWithRetry<AttemptRow>(
      this.pool,
      "SELECT * FROM attempts WHERE run_id = $1 ORDER BY seq, attempt",
      [runId],
    );
    return rows.map(attemptFromRow);
  }

  async listSignals(runId: string) {
    const { rows } = await queryWithRetry<SignalRow>(
      this.pool,
      "SELECT * FROM signals WHERE run_id = $1 ORDER BY id",
      [runId],
    );
    return rows.map(signalFromRow);
  }

  async getEntry(runId: string, seq: number): Promise<JournalEntry | undefined> {
    const { rows } = await queryWithRetry<JournalRow>(
      this.pool,
      "SELECT * FROM journal WHERE run_id = $1 AND seq = $2",
      [runId, seq],
    );
    return rows[0] ? entryFromRow(rows[0]) : undefined;
  }

  async leaseTasks(args: {
    queue: string;
    workerId: string;
    limit: number;
    now: number;
  }): Promise<TaskRecord[]> {
    const leased = await transact(
      this.pool,
      async (client) => {
        const { rows } = await client.query<TaskRow & { dirigent_xid: string }>(LEASE_TASKS_SQL, [
          args.queue,
          args.workerId,
          Math.max(0, Math.floor(args.limit)),
          args.now,
        ]);
        return { value: rows.map(taskFromRow), xid: rows[0]?.dirigent_xid };
      },
      this.options.faultPoint,
    );
    if (leased.length) this.counters.commits++;
    return leased;
  }

  async getTask(taskId: string): Promise<TaskRecord | undefined> {
    const { rows } = await queryWithRetry<TaskRow>(this.pool, "SELECT * FROM tasks WHERE task_id = $1", [
      taskId,
    ]);
    return rows[0] ? taskFromRow(rows[0]) : undefined;
  }

  async expiredTasks(args: { now: number; limit: number }): Promise<TaskRecord[]> {
    const { rows } = await queryWithRetry<TaskRow>(this.pool, EXPIRED_TASKS_SQL, [args.now, args.limit]);
    return rows.map(taskFromRow);
  }

  async describeQueue(queue: string, now: number): Promise<QueueInfo | undefined> {
    return (await this.queues(queue, now))[0];
  }

  async listQueues(now: number): Promise<QueueInfo[]> {
    return this.queues(null, now);
  }

  private async queues(queue: string | null, now: number): Promise<QueueInfo[]> {
    const { rows } = await queryWithRetry<{
      queue: string;
      queued: number;
      leased: number;
      oldest: number | null;
      done: number;
      concurrency: number | null;
      rate_per_s: number | null;
      workers: { workerId: string; lastSeenAt: number }[];
    }>(this.pool, QUEUES_SQL, [queue, now]);
    return rows
      .map((r) => ({
        queue: r.queue,
        queued: Number(r.queued),
        leased: Number(r.leased),
        oldestQueuedAgeMs: r.oldest !== null ? Math.max(0, now - Number(r.oldest)) : 0,
        completedLastMinute: Number(r.done),
        workers: r.workers.map((w) => ({ workerId: w.workerId, lastSeenAt: Number(w.lastSeenAt) })),
        concurrency: r.concurrency ?? undefined,
        ratePerSecond: r.rate_per_s ?? undefined,
      }))
      .sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
  }

  async getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined> {
    const { rows } = await queryWithRetry<ScheduleRow>(
      this.pool,
      "SELECT * FROM schedules WHERE schedule_id = $1",
      [scheduleId],
    );
    return rows[0] ? scheduleFromRow(rows[0]) : undefined;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    const { rows } = await queryWithRetry<ScheduleRow>(
      this.pool,
      "SELECT * FROM schedules ORDER BY schedule_id",
    );
    return rows.map(scheduleFromRow);
  }

  async dueSchedules(args: { now: number; limit: number }): Promise<ScheduleRecord[]> {
    const { rows } = await queryWithRetry<ScheduleRow>(this.pool, DUE_SCHEDULES_SQL, [args.now, args.limit]);
    return rows.map(scheduleFromRow);
  }

  async getDefinition(name: string, version?: number): Promise<DefinitionRecord | undefined> {
    const { rows } =
      version === undefined
        ? await queryWithRetry<DefinitionRow>(
            this.pool,
            "SELECT * FROM definitions WHERE name = $1 ORDER BY version DESC LIMIT 1",
            [name],
          )
        : await queryWithRetry<DefinitionRow>(
            this.pool,
            "SELECT * FROM definitions WHERE name = $1 AND version = $2",
            [name, version],
          );
    return rows[0] ? definitionFromRow(rows[0]) : undefined;
  }

  async listDefinitions(): Promise<DefinitionRecord[]> {
    const { rows } = await queryWithRetry<DefinitionRow>(
      this.pool,
      "SELECT * FROM definitions ORDER BY name, version",
    );
    return rows.map(definitionFromRow);
  }

  async runStats(args: {
    since: number;
    until: number;
    bucketMs: number;
    workflow?: string;
  }): Promise<RunStats> {
    const { since, until, bucketMs } = args;
    const wf = args.workflow ?? null;
    const [started, ended, durations] = await Promise.all([
      queryWithRetry<{ b: number; n: number }>(this.pool, STATS_STARTED_SQL, [since, until, bucketMs, wf]),
      queryWithRetry<{ b: number; completed: number; failed: number }>(this.pool, STATS_ENDED_SQL, [
        since,
        until,
        bucketMs,
        wf,
      ]),
      queryWithRetry<{ d: number }>(this.pool, STATS_DURATIONS_SQL, [since, until, wf]),
    ]);
    return assembleRunStats({
      since,
      until,
      bucketMs,
      started: started.rows,
      ended: ended.rows,
      durationsMs: durations.rows.map((r) => Number(r.d)),
    });
  }

  async subscribeWakeups(onWake: () => void): Promise<() => Promise<void>> {
    return this.listener.subscribe(onWake);
  }

  async countRuns(filter: { workflow?: string } = {}): Promise<Record<RunStatus, number>> {
    const { rows } = filter.workflow
      ? await queryWithRetry<{ status: RunStatus; n: number }>(
          this.pool,
          "SELECT status, count(*) AS n FROM runs WHERE workflow = $1 GROUP BY status",
          [filter.workflow],
        )
      : await queryWithRetry<{ status: RunStatus; n: number }>(
          this.pool,
          "SELECT status, count(*) AS n FROM runs GROUP BY status",
        );
    const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }
}
