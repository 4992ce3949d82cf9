import type Database from "better-sqlite3";
import type { DefinitionRecord, QueueInfo, ScheduleRecord, TaskRecord } from "../../core/types.js";
import type { EncodedEntry, WriteOp, WriteResult } from "../store.js";
import {
  type DefinitionRow,
  definitionFromRow,
  type ScheduleRow,
  scheduleFromRow,
  type TaskRow,
  taskFromRow,
} from "../task-rows.js";
import { SqliteRetry } from "./sqlite-retry.js";

type TaskOp = Extract<
  WriteOp,
  {
    type:
      | "retryRun"
      | "scheduleTask"
      | "completeTask"
      | "failTask"
      | "heartbeatTask"
      | "setQueueLimits"
      | "createSchedule"
      | "setSchedulePaused"
      | "deleteSchedule"
      | "advanceSchedule"
      | "putDefinition";
  }
>;

/**
 * SQLite transitions of task queues, schedules and run retry (in SqliteRetry). Like SqliteOps, every
 * method runs inside the batch transaction opened by the store.
 */
export class SqliteTaskOps {
  private s!: ReturnType<SqliteTaskOps["prepare"]>;
  private readonly retry: SqliteRetry;

  /** `putEntry` is SqliteOps' journal upsert, shared so the statement exists once. */
  constructor(
    private readonly db: Database.Database,
    private readonly putEntry: (runId: string, entry: EncodedEntry) => void,
  ) {
    this.retry = new SqliteRetry(db);
  }

  private prepare() {
    const db = this.db;
    return {
      task: db.prepare("SELECT * FROM tasks WHERE task_id = ?"),
      runState: db.prepare("SELECT fence, status FROM runs WHERE run_id = ?"),
      wake: db.prepare(
        `UPDATE runs SET wake_at = min(coalesce(wake_at, @now), @now) WHERE run_id = @runId
         AND status NOT IN ('completed','failed','cancelled','terminated')`,
      ),
      insertTask: db.prepare(
        `INSERT INTO tasks (task_id, queue, run_id, seq, name, input_json, priority, status, retry_json, available_at,
           schedule_to_start_at, start_to_close_ms, heartbeat_timeout_ms, traceparent, created_at, updated_at)
         VALUES (@taskId, @queue, @runId, @seq, @name, @inputJson, @priority, 'queued', @retryJson, @now,
           @scheduleToStartAt, @startToCloseMs, @heartbeatTimeoutMs, @traceparent, @now, @now)
         ON CONFLICT (task_id) DO NOTHING`,
      ),
      finishEntry: db.prepare(
        `UPDATE journal SET status = @status, attempt = @attempt, result_json = @resultJson, error_json = @errorJson,
           updated_at = @now WHERE run_id = @runId AND seq = @seq AND status = 'waiting'`,
      ),
      noteAttempt: db.prepare(
        `UPDATE journal SET attempt = @attempt, error_json = @errorJson, updated_at = @now
         WHERE run_id = @runId AND seq = @seq AND status = 'waiting'`,
      ),
      putAttempt: db.prepare(
        `INSERT OR REPLACE INTO attempts (run_id, seq, attempt, started_at, ended_at, error_json, node)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      completeTask: db.prepare(
        "UPDATE tasks SET status = 'completed', lease_expires_at = NULL, updated_at = @now WHERE task_id = @taskId",
      ),
      requeueTask: db.prepare(
        `UPDATE tasks SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, available_at = @retryAt,
           last_error_json = @errorJson, updated_at = @now WHERE task_id = @taskId`,
      ),
      failTask: db.prepare(
        `UPDATE tasks SET status = 'failed', lease_expires_at = NULL, last_error_json = @errorJson, updated_at = @now
         WHERE task_id = @taskId`,
      ),
      heartbeat: db.prepare(
        "UPDATE tasks SET lease_expires_at = @until, updated_at = @now WHERE task_id = @taskId",
      ),
      cancelRequested: db.prepare("SELECT cancel_requested, status FROM runs WHERE run_id = ?"),
      upsertQueue: db.prepare(
        `INSERT INTO queues (queue, concurrency, rate_per_s, tokens, tokens_at) VALUES (@queue, @concurrency, @rate, 0, 0)
         ON CONFLICT (queue) DO UPDATE SET concurrency = excluded.concurrency, rate_per_s = excluded.rate_per_s`,
      ),
      queue: db.prepare("SELECT * FROM queues WHERE queue = ?"),
      leasedCount: db.prepare("SELECT count(*) AS n FROM tasks WHERE queue = ? AND status = 'leased'"),
      ready: db.prepare(
        `SELECT * FROM tasks WHERE queue = ? AND status = 'queued' AND available_at <= ?
         ORDER BY priority DESC, available_at, task_id LIMIT ?`,
      ),
      lease: db.prepare(
        `UPDATE tasks SET status = 'leased', attempt = attempt + 1, lease_token = lease_token + 1,
           worker_id = @workerId, started_at = @now, updated_at = @now,
           lease_expires_at = @now + min(start_to_close_ms, coalesce(heartbeat_timeout_ms, start_to_close_ms))
         WHERE task_id = @taskId RETURNING *`,
      ),
      spendTokens: db.prepare("UPDATE queues SET tokens = ?, tokens_at = ? WHERE queue = ?"),
      // "Last seen" moves at most once a second, so a poll that finds nothing writes nothing (no fsync).
      seenWorker: db.prepare(
        `INSERT INTO workers (queue, worker_id, last_seen_at) VALUES (?, ?, ?)
         ON CONFLICT (queue, worker_id) DO UPDATE SET last_seen_at = excluded.last_seen_at
         WHERE workers.last_seen_at < excluded.last_seen_at - 1000`,
      ),
      expired: db.prepare(
        `SELECT * FROM tasks WHERE status = 'leased' AND lease_expires_at < @now
         UNION ALL
         SELECT * FROM tasks WHERE status = 'queued' AND schedule_to_start_at IS NOT NULL AND schedule_to_start_at < @now
         LIMIT @limit`,
      ),
      queueCounts: db.prepare(
        `SELECT queue, sum(status = 'queued') AS queued, sum(status = 'leased') AS leased,
           min(CASE WHEN status = 'queued' AND available_at <= @now THEN available_at END) AS oldest,
           sum(status = 'completed') AS done
         FROM tasks WHERE (status IN ('queued','leased') OR (status = 'completed' AND updated_at >= @now - 60000))
           AND (@queue IS NULL OR queue = @queue) GROUP BY queue`,
      ),
      knownQueues: db.prepare(
        "SELECT queue FROM queues UNION SELECT queue FROM workers UNION SELECT DISTINCT queue FROM tasks",
      ),
      workers: db.prepare("SELECT worker_id, last_seen_at FROM workers WHERE queue = ? ORDER BY worker_id"),
      cancelRunTasks: db.prepare(
        "UPDATE tasks SET status = 'cancelled', updated_at = ? WHERE run_id = ? AND status IN ('queued','leased')",
      ),
      schedule: db.prepare("SELECT * FROM schedules WHERE schedule_id = ?"),
      insertSchedule: db.prepare(
        `INSERT INTO schedules (schedule_id, workflow, input_json, cron, timezone, overlap, catchup_window_ms, paused,
           next_fire_at, created_at, updated_at)
         VALUES (@scheduleId, @workflow, @inputJson, @cron, @timezone, @overlap, @catchupWindowMs, @paused,
           CASE WHEN @paused = 1 THEN NULL ELSE @nextFireAt END, @createdAt, @updatedAt)
         ON CONFLICT (schedule_id) DO NOTHING`,
      ),
      // A paused schedule has no next fire (resume computes one from its time), so pausing clears it.
      pauseSchedule: db.prepare(
        `UPDATE schedules SET paused = @paused,
           next_fire_at = CASE WHEN @paused = 1 THEN NULL ELSE coalesce(@nextFireAt, next_fire_at) END,
           updated_at = @now
         WHERE schedule_id = @scheduleId`,
      ),
      deleteSchedule: db.prepare("DELETE FROM schedules WHERE schedule_id = ?"),
      advanceSchedule: db.prepare(
        `UPDATE schedules SET next_fire_at = @nextFireAt, buffered_fire_at = @bufferedFireAt,
           last_fire_at = coalesce(@lastFireAt, last_fire_at), last_run_id = coalesce(@lastRunId, last_run_id),
           updated_at = @now
         WHERE schedule_id = @scheduleId AND next_fire_at IS @expectedNextFireAt
           AND buffered_fire_at IS @expectedBufferedFireAt`,
      ),
      schedules: db.prepare("SELECT * FROM schedules ORDER BY schedule_id"),
      dueSchedules: db.prepare(
        `SELECT * FROM schedules WHERE paused = 0 AND (next_fire_at <= @now OR buffered_fire_at IS NOT NULL)
         ORDER BY next_fire_at LIMIT @limit`,
      ),
      entry: db.prepare("SELECT * FROM journal WHERE run_id = ? AND seq = ?"),
      latestDefinition: db.prepare("SELECT * FROM definitions WHERE name = ? ORDER BY version DESC LIMIT 1"),
      definition: db.prepare("SELECT * FROM definitions WHERE name = ? AND version = ?"),
      definitions: db.prepare("SELECT * FROM definitions ORDER BY name, version"),
      insertDefinition: db.prepare(
        "INSERT INTO definitions (name, version, format, source, checksum, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
    };
  }

  get st() {
    this.s ??= this.prepare();
    return this.s;
  }

  apply(op: TaskOp): WriteResult {
    switch (op.type) {
      case "retryRun":
        return this.retry.retryRun(op.runId, op.now);
      case "scheduleTask": {
        const run = this.st.runState.get(op.runId) as { fence: number; status: string } | undefined;
        if (!run) return { ok: false, code: "RUN_NOT_FOUND" };
        if (run.fence !== op.fence) return { ok: false, code: "STALE_FENCE" };
        this.putEntry(op.runId, op.entry);
        const t = op.task;
        this.st.insertTask.run({
          taskId: t.taskId,
          queue: t.queue,
          runId: t.runId,
          seq: t.seq,
          name: t.name,
          inputJson: t.inputJson,
          priority: t.priority,
          retryJson: t.retryJson,
          scheduleToStartAt: t.scheduleToStartAt ?? null,
          startToCloseMs: t.startToCloseMs,
          heartbeatTimeoutMs: t.heartbeatTimeoutMs ?? null,
          traceparent: t.traceparent ?? null,
          now: t.now,
        });
        return { ok: true, queue: t.queue };
      }
      case "completeTask": {
        const task = this.leasedTask(op.taskId, op.leaseToken, op.now, false);
        if ("ok" in task) return task;
        this.st.completeTask.run({ taskId: op.taskId, now: op.now });
        this.st.finishEntry.run({
          runId: task.run_id,
          seq: task.seq,
          status: "completed",
          attempt: task.attempt,
          resultJson: op.resultJson,
          errorJson: null,
          now: op.now,
        });
        this.st.wake.run({ runId: task.run_id, now: op.now });
        return { ok: true, queue: task.queue };
      }
      case "failTask": {
        const task = this.leasedTask(op.taskId, op.leaseToken, op.now, op.expired === true);
        if ("ok" in task) return task;
        const startedAt = Number(task.started_at ?? op.now);
        this.st.putAttempt.run(
          task.run_id,
          task.seq,
          task.attempt,
          startedAt,
          op.now,
          op.errorJson,
          task.worker_id,
        );
        if (op.retryAt !== undefined) {
          this.st.requeueTask.run({
            taskId: op.taskId,
            retryAt: op.retryAt,
            errorJson: op.errorJson,
            now: op.now,
          });
          this.st.noteAttempt.run({
            runId: task.run_id,
            seq: task.seq,
            attempt: task.attempt,
            errorJson: op.errorJson,
            now: op.now,
          });
        } else {
          this.st.failTask.run({ taskId: op.taskId, errorJson: op.errorJson, now: op.now });
          this.st.finishEntry.run({
            runId: task.run_id,
            seq: task.seq,
            status: "failed",
            attempt: task.attempt,
            resultJson: null,
            errorJson: op.errorJson,
            now: op.now,
          });
          this.st.wake.run({ runId: task.run_id, now: op.now });
        }
        return { ok: true, queue: task.queue };
      }
      case "heartbeatTask": {
        const task = this.st.task.get(op.taskId) as TaskRow | undefined;
        if (!task) return { ok: false, code: "TASK_NOT_FOUND" };
        if (task.status === "cancelled") return { ok: true, cancelRequested: true };
        const valid =
          task.status === "leased" &&
          Number(task.lease_token) === op.leaseToken &&
          Number(task.lease_expires_at) >= op.now;
        if (!valid) return { ok: false, code: "TASK_LEASE_EXPIRED" };
        // A heartbeat extends the lease by the heartbeat timeout, never past the start-to-close limit.
        const closeBy = Number(task.started_at) + Number(task.start_to_close_ms);
        const until = Math.min(closeBy, op.now + Number(task.heartbeat_timeout_ms ?? task.start_to_close_ms));
        this.st.heartbeat.run({ taskId: op.taskId, until, now: op.now });
        const run = this.st.cancelRequested.get(task.run_id) as { cancel_requested: number } | undefined;
        return { ok: true, cancelRequested: Boolean(run?.cancel_requested), leaseExpiresAt: until };
      }
      case "setQueueLimits":
        this.st.upsertQueue.run({
          queue: op.queue,
          concurrency: op.concurrency ?? null,
          rate: op.ratePerSecond ?? null,
        });
        return { ok: true, queue: op.queue };
      case "createSchedule": {
        const s = op.schedule;
        const info = this.st.insertSchedule.run({
          scheduleId: s.scheduleId,
          workflow: s.workflow,
          inputJson: s.input === undefined ? null : JSON.stringify(s.input),
          cron: s.cron,
          timezone: s.timezone,
          overlap: s.overlap,
          catchupWindowMs: s.catchupWindowMs,
          paused: s.paused ? 1 : 0,
          nextFireAt: s.nextFireAt ?? null,
          createdAt: s.createdAt,
          updatedAt: s.updatedAt,
        });
        return info.changes === 1 ? { ok: true, created: true } : { ok: false, code: "SCHEDULE_EXISTS" };
      }
      case "setSchedulePaused": {
        const info = this.st.pauseSchedule.run({
          scheduleId: op.scheduleId,
          paused: op.paused ? 1 : 0,
          nextFireAt: op.nextFireAt ?? null,
          now: op.now,
        });
        return info.changes === 1 ? { ok: true } : { ok: false, code: "SCHEDULE_NOT_FOUND" };
      }
      case "deleteSchedule": {
        const info = this.st.deleteSchedule.run(op.scheduleId);
        return info.changes === 1 ? { ok: true } : { ok: false, code: "SCHEDULE_NOT_FOUND" };
      }
      case "putDefinition": {
        const latest = this.st.latestDefinition.get(op.name) as DefinitionRow | undefined;
        if (latest && latest.checksum === op.checksum)
          return { ok: true, created: false, version: Number(latest.version) };
        const version = latest ? Number(latest.version) + 1 : 1;
        this.st.insertDefinition.run(op.name, version, op.format, op.source, op.checksum, op.now);
        return { ok: true, created: true, version };
      }
      case "advanceSchedule": {
        const info = this.st.advanceSchedule.run({
          scheduleId: op.scheduleId,
          expectedNextFireAt: op.expectedNextFireAt,
          expectedBufferedFireAt: op.expectedBufferedFireAt,
          nextFireAt: op.nextFireAt,
          bufferedFireAt: op.bufferedFireAt,
          lastFireAt: op.lastFireAt ?? null,
          lastRunId: op.lastRunId ?? null,
          now: op.now,
        });
        return info.changes === 1 ? { ok: true } : { ok: false, code: "STALE_SCHEDULE" };
      }
    }
  }

  /** Finishing a run (any way) cancels its open tasks: workers hear it on their next heartbeat. */
  cancelRunTasks(runId: string, now: number): void {
    this.st.cancelRunTasks.run(now, runId);
  }

  /** The task, if it is leased under `token` and (unless `expired`) its lease has not run out. */
  private leasedTask(
    taskId: string,
    token: number,
    now: number,
    expired: boolean,
  ): TaskRow | { ok: false; code: "TASK_NOT_FOUND" | "TASK_LEASE_EXPIRED" } {
    const task = this.st.task.get(taskId) as TaskRow | undefined;
    if (!task) return { ok: false, code: "TASK_NOT_FOUND" };
    // The engine may also expire a task that waited too long in the queue (schedule-to-start).
    const expiredInQueue = expired && task.status === "queued";
    if ((task.status !== "leased" && !expiredInQueue) || Number(task.lease_token) !== token) {
      return { ok: false, code: "TASK_LEASE_EXPIRED" };
    }
    if (!expired && Number(task.lease_expires_at) < now) return { ok: false, code: "TASK_LEASE_EXPIRED" };
    return task;
  }

  leaseTasks(args: { queue: string; workerId: string; limit: number; now: number }): TaskRecord[] {
    const { queue, workerId, now } = args;
    this.st.seenWorker.run(queue, workerId, now);
    let limit = args.limit;
    const q = this.st.queue.get(queue) as
      | { concurrency: number | null; rate_per_s: number | null; tokens: number; tokens_at: number }
      | undefined;
    if (q?.concurrency != null) {
      const { n } = this.st.leasedCount.get(queue) as { n: number };
      limit = Math.min(limit, q.concurrency - n);
    }
    let tokens = 0;
    if (q?.rate_per_s != null) {
      // Token bucket holding at most one second's worth of tasks.
      tokens = Math.min(q.rate_per_s, q.tokens + ((now - q.tokens_at) / 1000) * q.rate_per_s);
      limit = Math.min(limit, Math.floor(tokens));
    }
    if (limit <= 0) return [];
    const rows = this.st.ready.all(queue, now, limit) as TaskRow[];
    const leased = rows.map((r) => this.st.lease.get({ taskId: r.task_id, workerId, now }) as TaskRow);
    if (q?.rate_per_s != null) this.st.spendTokens.run(tokens - leased.length, now, queue);
    return leased.map(taskFromRow);
  }

  expiredTasks(now: number, limit: number): TaskRecord[] {
    return (this.st.expired.all({ now, limit }) as TaskRow[]).map(taskFromRow);
  }

  describeQueues(queue: string | null, now: number): QueueInfo[] {
    const counts = new Map(
      (
        this.st.queueCounts.all({ queue, now }) as {
          queue: string;
          queued: number;
          leased: number;
          oldest: number | null;
          done: number;
        }[]
      ).map((r) => [r.queue, r]),
    );
    const names =
      queue === null ? (this.st.knownQueues.all() as { queue: string }[]).map((r) => r.queue) : [queue];
    return names.sort().map((name) => {
      const c = counts.get(name);
      const limits = this.st.queue.get(name) as
        | { concurrency: number | null; rate_per_s: number | null }
        | undefined;
      return {
        queue: name,
        queued: Number(c?.queued ?? 0),
        leased: Number(c?.leased ?? 0),
        oldestQueuedAgeMs: c?.oldest != null ? Math.max(0, now - Number(c.oldest)) : 0,
        completedLastMinute: Number(c?.done ?? 0),
        workers: (this.st.workers.all(name) as { worker_id: string; last_seen_at: number }[]).map((w) => ({
          workerId: w.worker_id,
          lastSeenAt: Number(w.last_seen_at),
        })),
        concurrency: limits?.concurrency ?? undefined,
        ratePerSecond: limits?.rate_per_s ?? undefined,
      };
    });
  }

  queueExists(queue: string): boolean {
    return (this.st.knownQueues.all() as { queue: string }[]).some((r) => r.queue === queue);
  }

  getSchedule(id: string): ScheduleRecord | undefined {
    const row = this.st.schedule.get(id) as ScheduleRow | undefined;
    return row ? scheduleFromRow(row) : undefined;
  }

  listSchedules(): ScheduleRecord[] {
    return (this.st.schedules.all() as ScheduleRow[]).map(scheduleFromRow);
  }

  dueSchedules(now: number, limit: number): ScheduleRecord[] {
    return (this.st.dueSchedules.all({ now, limit }) as ScheduleRow[]).map(scheduleFromRow);
  }

  getDefinition(name: string, version?: number): DefinitionRecord | undefined {
    const row = (
      version === undefined ? this.st.latestDefinition.get(name) : this.st.definition.get(name, version)
    ) as DefinitionRow | undefined;
    return row ? definitionFromRow(row) : undefined;
  }

  listDefinitions(): DefinitionRecord[] {
    return (this.st.definitions.all() as DefinitionRow[]).map(definitionFromRow);
  }

  getTask(taskId: string): TaskRecord | undefined {
    const row = this.st.task.get(taskId) as TaskRow | undefined;
    return row ? taskFromRow(row) : undefined;
  }

  getEntryRow(runId: string, seq: number) {
    return this.st.entry.get(runId, seq);
  }
}
