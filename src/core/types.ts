import type { RetryPolicy } from "./retry.js";

/**
 * Core domain types of Dirigent.
 *
 * Glossary
 * - workflow: a named definition (a TS function or a DSL document) with a version.
 * - run: one execution of a workflow, identified by a run id (user-chosen or generated).
 * - journal: the ordered, durable record of a run's ctx calls and their outcomes, keyed by (runId, seq).
 *   Each entry stores its kind and name so that changed workflow code is detected on replay.
 * - step: a journaled unit of work (local function, child run, ...). A step has attempts.
 * - node: an engine process. Each run has at most one owner node at a time.
 * - lease: time-bounded ownership of a run, renewed by heartbeat, carrying a fencing token (`fence`),
 *   an increasing number, so a stale owner's late writes are refused.
 * - signal: a named message sent to a run from outside, buffered durably until consumed.
 * - timer: a durable wake-up time (`wakeAt`) stored with the run.
 *
 * All times are epoch milliseconds (numbers); all durations carry their unit in the name (`leaseMs`).
 */

export const RUN_STATUSES = [
  "pending",
  "running",
  "waiting",
  "completed",
  "failed",
  "cancelled",
  "terminated",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled", "terminated"];

export function isTerminalStatus(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Serialized form of an error, as stored in the journal and returned by the API. */
export interface ErrorInfo {
  name: string;
  message: string;
  /** Stable code when the error is one of Dirigent's own, or a user-supplied code. */
  code?: string;
  /** True when the error stopped retries on purpose (TerminalError, nondeterminism, ...). */
  terminal?: boolean;
  stack?: string;
  details?: unknown;
}

/** A run as stored. */
export interface RunRecord {
  runId: string;
  workflow: string;
  version: string;
  status: RunStatus;
  input: unknown;
  output?: unknown;
  error?: ErrorInfo;
  parentRunId?: string;
  parentSeq?: number;
  /** Node currently holding the lease, if any. */
  owner?: string;
  fence: number;
  leaseExpiresAt?: number;
  /** When the run should next be woken (timer, retry backoff, or an event that arrived). */
  wakeAt?: number;
  cancelRequested: boolean;
  /** Absolute deadline of the whole run (run timeout), if any. */
  deadlineAt?: number;
  createdAt: number;
  startedAt?: number;
  updatedAt: number;
  completedAt?: number;
  /** Only on records returned by claimRuns: claimed because the previous owner's lease ran out. */
  takeover?: boolean;
}

export const ENTRY_KINDS = [
  "step",
  "sleep",
  "signal",
  "child",
  "task",
  "now",
  "random",
  "uuid",
  "undo",
] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/**
 * Status of a journal entry:
 * - completed / failed: final outcome, returned (or thrown) on replay without re-executing.
 * - waiting: a durable wait (timer, signal, child, task) that has not resolved yet.
 * - retrying: a step attempt failed and the next attempt is due at `wakeAt` (durable backoff).
 */
export type EntryStatus = "completed" | "failed" | "waiting" | "retrying";

export interface JournalEntry {
  seq: number;
  kind: EntryKind;
  name: string;
  status: EntryStatus;
  /** Number of attempts made so far (steps); 0 for entries without attempts. */
  attempt: number;
  result?: unknown;
  error?: ErrorInfo;
  /** For waiting/retrying entries: when the wait or next attempt is due. */
  wakeAt?: number;
  /** Kind-specific facts: child run id, signal name, whether a step declared an undo, the step's node. */
  detail?: EntryDetail;
  startedAt: number;
  updatedAt: number;
}

export interface EntryDetail {
  childRunId?: string;
  childWorkflow?: string;
  signalName?: string;
  hasUndo?: boolean;
  /** For undo entries: the seq of the step being compensated. */
  compensates?: number;
  node?: string;
  timedOut?: boolean;
  /** Retries of the run that reopened this entry (oldest first); see RetryRecord. */
  retries?: RetryRecord[];
}

/**
 * A retry of a failed run (retryRun) that reopened this entry: when, and how many attempts it had made
 * by then. Attempt numbers go on after a retry (4, 5, … after 3 failed ones), but the retry policy counts
 * the attempts of the current round only, from the latest record's `afterAttempt`.
 */
export interface RetryRecord {
  at: number;
  afterAttempt: number;
}

/** A failed attempt of a step (successful final attempts live on the journal entry itself). */
export interface AttemptRecord {
  runId: string;
  seq: number;
  attempt: number;
  startedAt: number;
  endedAt: number;
  error: ErrorInfo;
  node?: string;
}

export interface SignalRecord {
  id: number;
  runId: string;
  name: string;
  payload: unknown;
  receivedAt: number;
  /** Journal seq of the wait that consumed it, once consumed. */
  consumedSeq?: number;
}

/** Filters for listing runs; all optional; results newest first. */
export interface RunFilter {
  status?: RunStatus[];
  workflow?: string;
  createdAfter?: number;
  createdBefore?: number;
  idContains?: string;
  parentRunId?: string;
  limit?: number;
  cursor?: string;
}

export interface RunPage {
  runs: RunRecord[];
  nextCursor?: string;
}

export const TASK_STATUSES = ["queued", "leased", "completed", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A task: a step handed to a queue for a remote worker. Its id is the idempotency key `<runId>:<seq>`. */
export interface TaskRecord {
  taskId: string;
  queue: string;
  runId: string;
  seq: number;
  name: string;
  input: unknown;
  priority: number;
  status: TaskStatus;
  /** Attempts started so far (a lease starts an attempt). */
  attempt: number;
  retry: RetryPolicy;
  /** Fencing token of the current lease: a completion must carry it. */
  leaseToken: number;
  workerId?: string;
  leaseExpiresAt?: number;
  availableAt: number;
  scheduleToStartAt?: number;
  startToCloseMs: number;
  heartbeatTimeoutMs?: number;
  traceparent?: string;
  lastError?: ErrorInfo;
  createdAt: number;
  startedAt?: number;
  updatedAt: number;
}

export interface QueueInfo {
  queue: string;
  queued: number;
  leased: number;
  /** Age of the oldest task ready to run, in ms (0 when none). */
  oldestQueuedAgeMs: number;
  /** Tasks completed in the last minute (throughput). */
  completedLastMinute: number;
  workers: { workerId: string; lastSeenAt: number }[];
  concurrency?: number;
  ratePerSecond?: number;
}

export const OVERLAP_POLICIES = ["skip", "buffer_one", "allow_all"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

export interface ScheduleRecord {
  scheduleId: string;
  workflow: string;
  input: unknown;
  cron: string;
  timezone: string;
  overlap: OverlapPolicy;
  /** Fires missed while no node ran are caught up only if they are at most this old. */
  catchupWindowMs: number;
  paused: boolean;
  /** Absent while paused (resume computes it from then on) and when the expression never fires again. */
  nextFireAt?: number;
  lastFireAt?: number;
  /** The run the last fire started, timed or triggered by hand: the overlap policies wait for it. */
  lastRunId?: string;
  /** buffer_one: a fire waiting for the running one to finish. */
  bufferedFireAt?: number;
  createdAt: number;
  updatedAt: number;
}

/** A deployed declarative (DSL) workflow definition. Versions count up from 1 per name. */
export interface DefinitionRecord {
  name: string;
  version: number;
  /** "yaml" or "json": the source text is kept exactly as deployed. */
  format: "yaml" | "json";
  source: string;
  /** Hash of the source, so deploying the same text twice does not make a new version. */
  checksum: string;
  createdAt: number;
}

/** Activity over time, for the dashboard's overview. */
export interface RunStats {
  bucketMs: number;
  /** One bucket per `bucketMs` from `since`: runs started, and runs that ended completed or failed in it. */
  buckets: { t: number; started: number; completed: number; failed: number }[];
  /** Share of runs that ended in the window that failed (0..1), or null when none ended. */
  failureRate: number | null;
  /** Duration of completed steps and tasks (first attempt start to completion) in the window, ms. */
  stepLatencyMs: { count: number; p50: number | null; p95: number | null; p99: number | null };
}
