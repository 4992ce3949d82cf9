import type { HistoryEvent, RunHistory } from "../core/history.js";
import type {
  DefinitionRecord,
  QueueInfo,
  RunFilter,
  RunPage,
  RunRecord,
  RunStats,
  ScheduleRecord,
} from "../core/types.js";
import type { DefinitionGraph } from "../dsl/graph.js";
import type { ScheduleSpec } from "../runtime/schedules.js";

export type { StartOptions, StartResult } from "../runtime/engine.js";
export type {
  DefinitionGraph,
  DefinitionRecord,
  HistoryEvent,
  QueueInfo,
  RunHistory,
  RunStats,
  ScheduleRecord,
  ScheduleSpec,
};

import type { StartOptions, StartResult } from "../runtime/engine.js";

/** What `runStats` covers; every field is optional (see its defaults). */
export interface RunStatsQuery {
  /** Start of the window, epoch ms (default: one hour before `until`). */
  since?: number;
  /** End of the window, epoch ms, exclusive (default: now). */
  until?: number;
  /** Width of one bucket in ms (default 60,000; at least 1,000; at most 1,000 buckets in the window). */
  bucketMs?: number;
  /** Only runs of this workflow. */
  workflow?: string;
}

export interface WorkflowInfo {
  name: string;
  versions: string[];
  latest: string;
}

export interface ResultOptions {
  /** How long to wait for the run to end (default 60 s). */
  timeoutMs?: number;
  /** Stop waiting when this aborts. */
  signal?: AbortSignal;
}

/**
 * The one programmatic API over Dirigent, the same whether it talks to an engine in this process
 * (LocalClient) or to a server over HTTP: the CLI and the server's handlers are written against it.
 * Errors are DirigentErrors with stable codes (docs/errors.md).
 */
export interface DirigentClient {
  start(workflow: string, input?: unknown, options?: StartOptions): Promise<StartResult>;
  describe(runId: string): Promise<RunRecord>;
  list(filter?: RunFilter): Promise<RunPage>;
  history(runId: string): Promise<RunHistory>;
  /**
   * Wait until the run is final and return it (whatever its status); RESULT_TIMEOUT past `timeoutMs`.
   * Aborting `signal` ends the wait at once, rejecting with the signal's reason (an AbortError unless
   * another was given), and releases what it held (the server's long-poll, the engine's waiter).
   */
  result(runId: string, options?: ResultOptions): Promise<RunRecord>;
  signal(runId: string, name: string, payload?: unknown): Promise<{ signalId: number }>;
  /** Cooperative: the run stops at its next durable point and compensates, then ends cancelled. */
  cancel(runId: string): Promise<void>;
  /** Immediate: no compensation, the owner's further writes are refused. */
  terminate(runId: string, reason?: string): Promise<void>;
  /** Start run `runId` of `workflow` unless it exists, then signal it: one call, no race. */
  signalWithStart(
    workflow: string,
    args: { runId: string; signal: string; payload?: unknown; input?: unknown; version?: string },
  ): Promise<StartResult & { signalId: number }>;
  /** Put a failed run back to work from its failed step (RUN_NOT_RETRYABLE unless it failed without compensating). */
  retry(runId: string): Promise<{ runId: string }>;
  workflows(): Promise<WorkflowInfo[]>;

  listQueues(): Promise<QueueInfo[]>;
  /** QUEUE_NOT_FOUND for a queue never used. */
  describeQueue(queue: string): Promise<QueueInfo>;
  setQueueLimits(
    queue: string,
    limits: { concurrency?: number | null; ratePerSecond?: number | null },
  ): Promise<void>;

  /**
   * Deploy a declarative (YAML/JSON) definition as the next version of its name; deploying the same
   * text again changes nothing (created false). INVALID_DEFINITION names file, line, column and path.
   */
  deployDefinition(
    source: string,
    options?: { file?: string; format?: "yaml" | "json" },
  ): Promise<{ name: string; version: number; created: boolean; graph: DefinitionGraph }>;
  /** Every stored definition version, without sources. */
  listDefinitions(): Promise<Omit<DefinitionRecord, "source">[]>;
  /** A definition (latest version unless given) with its source and graph; DEFINITION_NOT_FOUND if absent. */
  getDefinition(name: string, version?: number): Promise<DefinitionRecord & { graph: DefinitionGraph }>;

  createSchedule(spec: ScheduleSpec): Promise<ScheduleRecord>;
  listSchedules(): Promise<ScheduleRecord[]>;
  getSchedule(scheduleId: string): Promise<ScheduleRecord>;
  pauseSchedule(scheduleId: string): Promise<void>;
  resumeSchedule(scheduleId: string): Promise<void>;
  deleteSchedule(scheduleId: string): Promise<void>;
  /** Start a run now, outside the schedule's rhythm. */
  triggerSchedule(scheduleId: string): Promise<{ runId: string }>;

  /** Runs started and ended per time bucket, failure rate and step latency percentiles (dashboard charts). */
  runStats(query?: RunStatsQuery): Promise<RunStats>;
}
