import type {
  AttemptRecord,
  DefinitionRecord,
  ErrorInfo,
  JournalEntry,
  QueueInfo,
  RunFilter,
  RunPage,
  RunRecord,
  RunStats,
  RunStatus,
  ScheduleRecord,
  SignalRecord,
  TaskRecord,
} from "../core/types.js";

/**
 * The persistence contract every backend (SQLite, PostgreSQL) implements, and the only place SQL lives.
 *
 * Writes are expressed as operations, one per atomic state transition. `write(ops)` applies a list of
 * them in ONE transaction (group commit: the runtime batches operations of many runs so a single fsync
 * covers them all) and returns one result per operation, in order. An operation whose precondition
 * fails (a stale fencing token, a finished run) changes nothing and reports why in its result; it does
 * not abort the others. Only an unexpected database error rejects the whole batch, and then nothing of
 * the batch was applied.
 *
 * Fencing: every operation made on behalf of a run's owner carries the `fence` it got from its claim.
 * A claim increments the run's fence, so a node whose lease was taken over can no longer write.
 */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** Apply pending numbered migrations. Safe to call from several nodes at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  write(ops: WriteOp[]): Promise<WriteResult[]>;

  /**
   * Claim up to `limit` runnable runs for `nodeId`: runs without an owner whose `wakeAt <= now`, and runs
   * whose owner's lease expired before `now`. Each claimed run gets owner = nodeId, fence + 1,
   * leaseExpiresAt = now + leaseMs, wakeAt cleared, status running.
   */
  claimRuns(args: { nodeId: string; limit: number; leaseMs: number; now: number }): Promise<RunRecord[]>;

  /**
   * Extend the leases of runs owned by `nodeId` whose lease has not expired: all of them, or only
   * `runs`, each only while it still carries the fence given (the runs the node knows it executes, so
   * a run whose claim outcome it never learned lets its lease run out and is taken over).
   *
   * Returns `renewed`, the ids of the runs whose lease was extended: a run asked for and missing from
   * it is no longer safely this node's (another node claimed it, it was terminated or released, or its
   * lease ran out), and the node stops executing it. And `cancelRequested`, the ids of owned runs with a
   * cancel request pending.
   */
  renewLeases(args: {
    nodeId: string;
    leaseMs: number;
    now: number;
    runs?: { runId: string; fence: number }[];
  }): Promise<{ renewed: string[]; cancelRequested: string[] }>;

  /**
   * The earliest of: a wake-up time among runs without an owner, the first instant an owned run can be
   * taken over (its lease expiry + 1 ms: a lease is valid up to its expiry time, claimRuns takes it
   * after), and the next fire time of an unpaused schedule.
   */
  nextWakeAt(): Promise<number | undefined>;

  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(filter: RunFilter): Promise<RunPage>;
  /** Journal entries of a run in seq order. */
  loadJournal(runId: string): Promise<JournalEntry[]>;
  listAttempts(runId: string): Promise<AttemptRecord[]>;
  listSignals(runId: string): Promise<SignalRecord[]>;
  /**
   * Optional push notification that some run may have become due (PostgreSQL LISTEN/NOTIFY), so nodes
   * wake within milliseconds instead of at the next poll. Returns an unsubscribe function. Stores
   * without it rely on in-process wake-ups and polling.
   */
  subscribeWakeups?(onWake: () => void): Promise<() => Promise<void>>;
  /** One journal entry (used to resolve a task wait whose outcome a worker wrote). */
  getEntry(runId: string, seq: number): Promise<JournalEntry | undefined>;

  // ---- task queues ----
  /**
   * Lease up to `limit` ready tasks of `queue` to `workerId`, highest priority first, within the queue's
   * concurrency and rate limits. Each leased task gets attempt + 1 and a new lease token.
   */
  leaseTasks(args: { queue: string; workerId: string; limit: number; now: number }): Promise<TaskRecord[]>;
  getTask(taskId: string): Promise<TaskRecord | undefined>;
  /** Tasks whose lease ran out (worker died or went silent) or that waited too long to start. */
  expiredTasks(args: { now: number; limit: number }): Promise<TaskRecord[]>;
  describeQueue(queue: string, now: number): Promise<QueueInfo | undefined>;
  listQueues(now: number): Promise<QueueInfo[]>;

  // ---- schedules ----
  getSchedule(scheduleId: string): Promise<ScheduleRecord | undefined>;
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Unpaused schedules whose next fire time has come, or with a buffered fire. */
  dueSchedules(args: { now: number; limit: number }): Promise<ScheduleRecord[]>;

  // ---- declarative definitions ----
  /** A definition by name: the given version, or the latest. */
  getDefinition(name: string, version?: number): Promise<DefinitionRecord | undefined>;
  /** Every version of every definition, by name then version. */
  listDefinitions(): Promise<DefinitionRecord[]>;

  /** Runs started and ended per time bucket, failure rate and step latency since `since`. */
  runStats(args: { since: number; until: number; bucketMs: number; workflow?: string }): Promise<RunStats>;

  /** Count runs by status (for metrics and overviews). */
  countRuns(filter?: { workflow?: string }): Promise<Record<RunStatus, number>>;
}

export interface NewRun {
  runId: string;
  workflow: string;
  version: string;
  /** Input already encoded as JSON text (size checked by the caller). */
  inputJson: string | null;
  parentRunId?: string;
  parentSeq?: number;
  deadlineAt?: number;
  now: number;
}

/** A journal entry with its JSON fields already encoded. */
export interface EncodedEntry extends Omit<JournalEntry, "result" | "error" | "detail"> {
  resultJson: string | null;
  errorJson: string | null;
  detailJson: string | null;
}

export type WriteOp =
  /** Create a run unless the id exists. With `claim`, the new run is owned by that node at once (fence 1). */
  | { type: "createRun"; run: NewRun; claim?: { nodeId: string; leaseMs: number } }
  /** Insert or replace the journal entry at (runId, seq), optionally recording a failed attempt. */
  | {
      type: "putEntry";
      runId: string;
      fence: number;
      entry: EncodedEntry;
      failedAttempt?: AttemptRecordEncoded;
    }
  /**
   * Consume the oldest unconsumed signal named `signalName` for the wait at `seq`. If one exists, it is
   * marked consumed and the entry is written completed with the payload; otherwise `waitingEntry`
   * (if given) is written, so the wait is durable.
   */
  | {
      type: "consumeSignal";
      runId: string;
      fence: number;
      seq: number;
      name: string;
      signalName: string;
      now: number;
      waitingEntry?: EncodedEntry;
    }
  /** Write the child entry and create the child run in one step. */
  | {
      type: "startChild";
      runId: string;
      fence: number;
      entry: EncodedEntry;
      child: NewRun;
      claim?: { nodeId: string; leaseMs: number };
    }
  /**
   * Release the lease: status waiting, wakeAt = the earlier of `wakeAt` and any wake-up that arrived
   * while the run was owned (a signal, a child finishing), so no event is missed.
   */
  | { type: "suspendRun"; runId: string; fence: number; wakeAt?: number; now: number }
  /** Give a run back without a status change (node shutting down): claimable again at once. */
  | { type: "releaseRun"; runId: string; fence: number; now: number }
  /** Finish a run. Wakes the parent run, if any. */
  | {
      type: "completeRun";
      runId: string;
      fence: number;
      status: "completed" | "failed" | "cancelled";
      outputJson: string | null;
      error?: ErrorInfo;
      now: number;
    }
  /** Buffer a signal durably and wake the run. Refused for unknown or finished runs. */
  | { type: "deliverSignal"; runId: string; name: string; payloadJson: string | null; now: number }
  /** Ask a run to cancel (cooperatively) and wake it. */
  | { type: "requestCancel"; runId: string; now: number }
  /** End a run at once: status terminated, lease dropped, fence bumped so the owner's writes fail. */
  | { type: "terminateRun"; runId: string; reason: string; now: number }
  /**
   * Put a failed run back to pending from its first failed journal entry, keeping that entry's history:
   * a step becomes "retrying" (due now), a task (queued again) or a child wait becomes "waiting"; its
   * failed attempts stay and `detail.retries` gains `{ at: now, afterAttempt }`, where the new retry round
   * starts (attempt numbers go on). Other failed entries (a signal timeout) and every entry after it are
   * removed and run again; tasks the run's ending cancelled are queued again. Failed child runs that the
   * run's open child entries name are retried the same way, recursively. Refused (RUN_NOT_RETRYABLE)
   * unless the run failed and no compensation completed, and likewise for those children; a child that
   * was cancelled or terminated refuses it too (`runId` names the child). A refusal changes nothing,
   * anywhere in the tree. Leaves the fence as it is.
   */
  | { type: "retryRun"; runId: string; now: number }
  /** Write the task's waiting journal entry and queue the task, in one step. */
  | { type: "scheduleTask"; runId: string; fence: number; entry: EncodedEntry; task: NewTask }
  /**
   * A worker's result. Refused with TASK_LEASE_EXPIRED unless the task is leased under `leaseToken` and
   * the lease has not run out. Writes the run's journal entry and wakes the run.
   */
  | { type: "completeTask"; taskId: string; leaseToken: number; resultJson: string | null; now: number }
  /**
   * A failed attempt: with `retryAt` the task is queued again for then, otherwise it fails for good (the
   * journal entry fails and the run wakes). `expired` is the engine's own call for a lease that ran out:
   * it skips the lease-still-valid check but still needs the token, so it cannot race a new lease.
   */
  | {
      type: "failTask";
      taskId: string;
      leaseToken: number;
      errorJson: string;
      retryAt?: number;
      expired?: boolean;
      now: number;
    }
  /** Extend a task's lease (heartbeat). Reports whether the run asked to cancel. */
  | { type: "heartbeatTask"; taskId: string; leaseToken: number; now: number }
  | { type: "setQueueLimits"; queue: string; concurrency?: number | null; ratePerSecond?: number | null }
  /**
   * Deploy a definition: it becomes version latest + 1, unless the latest version has the same checksum,
   * in which case nothing changes (created false). The result's `version` is the version that holds it.
   */
  | {
      type: "putDefinition";
      name: string;
      format: "yaml" | "json";
      source: string;
      checksum: string;
      now: number;
    }
  /** Create a schedule (refused with SCHEDULE_EXISTS if the id is taken); one created paused gets no next fire time. */
  | { type: "createSchedule"; schedule: ScheduleRecord }
  /** Pausing clears the next fire time (a paused schedule has none); resuming sets `nextFireAt` if given. */
  | { type: "setSchedulePaused"; scheduleId: string; paused: boolean; nextFireAt?: number; now: number }
  | { type: "deleteSchedule"; scheduleId: string }
  /**
   * Compare-and-set of a schedule's firing state: applies only if next_fire_at still equals
   * `expectedNextFireAt` (and buffered_fire_at equals `expectedBufferedFireAt`), so of several nodes
   * that saw the same due time exactly one advances it. Refused with STALE_SCHEDULE otherwise.
   */
  | {
      type: "advanceSchedule";
      scheduleId: string;
      expectedNextFireAt: number | null;
      expectedBufferedFireAt: number | null;
      nextFireAt: number | null;
      bufferedFireAt: number | null;
      lastFireAt?: number;
      lastRunId?: string;
      now: number;
    };

export interface NewTask {
  taskId: string;
  queue: string;
  runId: string;
  seq: number;
  name: string;
  inputJson: string | null;
  priority: number;
  retryJson: string;
  scheduleToStartAt?: number;
  startToCloseMs: number;
  heartbeatTimeoutMs?: number;
  traceparent?: string;
  now: number;
}

export interface AttemptRecordEncoded {
  seq: number;
  attempt: number;
  startedAt: number;
  endedAt: number;
  errorJson: string;
  node?: string;
}

export type WriteFailure = {
  ok: false;
  code:
    | "STALE_FENCE"
    | "RUN_NOT_FOUND"
    | "RUN_FINISHED"
    | "RUN_NOT_RETRYABLE"
    | "TASK_NOT_FOUND"
    | "TASK_LEASE_EXPIRED"
    | "SCHEDULE_NOT_FOUND"
    | "SCHEDULE_EXISTS"
    | "STALE_SCHEDULE";
  /** The run's status when the failure is RUN_FINISHED or RUN_NOT_RETRYABLE. */
  status?: RunStatus;
  /** RUN_NOT_RETRYABLE because of a child run the retry would wait on again: that child (status: its status). */
  runId?: string;
};

export type WriteResult =
  | {
      ok: true;
      created?: boolean;
      run?: RunRecord;
      consumed?: boolean;
      payload?: unknown;
      signalId?: number;
      /** heartbeatTask: the run asked to cancel, or the task was cancelled. */
      cancelRequested?: boolean;
      leaseExpiresAt?: number;
      /** scheduleTask/completeTask/failTask: the queue whose waiting workers should look again. */
      queue?: string;
      /** putDefinition: the version holding the source. */
      version?: number;
    }
  | WriteFailure;
