import { DirigentError } from "../core/errors.js";
import { buildHistory, type RunHistory } from "../core/history.js";
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
import { type DslEngineOptions, deployDefinition, getDefinition, listDefinitions } from "../dsl/registry.js";
import type { Engine } from "../runtime/engine.js";
import type {
  DirigentClient,
  ResultOptions,
  RunStatsQuery,
  ScheduleSpec,
  StartOptions,
  StartResult,
  WorkflowInfo,
} from "./client.js";

/** Default window of runStats: the last hour, in one-minute buckets. */
export const DEFAULT_STATS_WINDOW_MS = 3_600_000;
export const DEFAULT_STATS_BUCKET_MS = 60_000;
/** Bounds of a stats query: buckets no narrower than a second, and no more than the store returns. */
export const MIN_STATS_BUCKET_MS = 1_000;
export const MAX_STATS_BUCKETS = 1_000;

/** The client API served by an engine in this process. */
export class LocalClient implements DirigentClient {
  /** `dsl`: secrets and expression limits of declarative definitions deployed through this client. */
  constructor(
    readonly engine: Engine,
    private readonly options: { dsl?: DslEngineOptions } = {},
  ) {}

  async deployDefinition(
    source: string,
    options: { file?: string; format?: "yaml" | "json" } = {},
  ): Promise<{ name: string; version: number; created: boolean; graph: DefinitionGraph }> {
    if (typeof source !== "string")
      throw new DirigentError("INVALID_ARGUMENT", "a definition's source must be text");
    const { name, version, created, graph } = await deployDefinition(this.engine, source, {
      ...this.options.dsl,
      ...options,
    });
    return { name, version, created, graph };
  }

  listDefinitions(): Promise<Omit<DefinitionRecord, "source">[]> {
    return listDefinitions(this.engine.store);
  }

  getDefinition(name: string, version?: number): Promise<DefinitionRecord & { graph: DefinitionGraph }> {
    return getDefinition(this.engine.store, name, version);
  }

  start(workflow: string, input?: unknown, options?: StartOptions): Promise<StartResult> {
    return this.engine.startRun(workflow, input, options);
  }

  describe(runId: string): Promise<RunRecord> {
    return this.engine.getRun(runId);
  }

  list(filter: RunFilter = {}): Promise<RunPage> {
    return this.engine.store.listRuns(filter);
  }

  async history(runId: string): Promise<RunHistory> {
    const run = await this.engine.getRun(runId);
    const store = this.engine.store;
    const [journal, attempts, signals] = await Promise.all([
      store.loadJournal(runId),
      store.listAttempts(runId),
      store.listSignals(runId),
    ]);
    return { run, journal, attempts, signals, events: buildHistory(run, journal, attempts, signals) };
  }

  result(runId: string, options: ResultOptions = {}): Promise<RunRecord> {
    return this.engine.waitForFinish(runId, options.timeoutMs, options.signal);
  }

  signal(runId: string, name: string, payload?: unknown): Promise<{ signalId: number }> {
    return this.engine.signal(runId, name, payload);
  }

  cancel(runId: string): Promise<void> {
    return this.engine.cancel(runId);
  }

  terminate(runId: string, reason?: string): Promise<void> {
    return this.engine.terminate(runId, reason);
  }

  async signalWithStart(
    workflow: string,
    args: { runId: string; signal: string; payload?: unknown; input?: unknown; version?: string },
  ): Promise<StartResult & { signalId: number }> {
    const started = await this.engine.startRun(workflow, args.input, {
      runId: args.runId,
      version: args.version,
    });
    const { signalId } = await this.engine.signal(started.runId, args.signal, args.payload);
    return { ...started, signalId };
  }

  async retry(runId: string): Promise<{ runId: string }> {
    await this.engine.retry(runId);
    return { runId };
  }

  async workflows(): Promise<WorkflowInfo[]> {
    return this.engine.registry.list();
  }

  listQueues(): Promise<QueueInfo[]> {
    return this.engine.tasks.list();
  }

  describeQueue(queue: string): Promise<QueueInfo> {
    return this.engine.tasks.describe(queue);
  }

  setQueueLimits(queue: string, limits: { concurrency?: number | null; ratePerSecond?: number | null }) {
    return this.engine.tasks.setLimits(queue, limits);
  }

  createSchedule(spec: ScheduleSpec): Promise<ScheduleRecord> {
    return this.engine.schedules.create(spec);
  }

  listSchedules(): Promise<ScheduleRecord[]> {
    return this.engine.schedules.list();
  }

  getSchedule(scheduleId: string): Promise<ScheduleRecord> {
    return this.engine.schedules.get(scheduleId);
  }

  pauseSchedule(scheduleId: string): Promise<void> {
    return this.engine.schedules.pause(scheduleId);
  }

  resumeSchedule(scheduleId: string): Promise<void> {
    return this.engine.schedules.resume(scheduleId);
  }

  deleteSchedule(scheduleId: string): Promise<void> {
    return this.engine.schedules.delete(scheduleId);
  }

  triggerSchedule(scheduleId: string): Promise<{ runId: string }> {
    return this.engine.schedules.trigger(scheduleId);
  }

  runStats(query: RunStatsQuery = {}): Promise<RunStats> {
    const window = resolveStatsWindow(query, this.engine.clock.now());
    return this.engine.store.runStats({ ...window, workflow: query.workflow });
  }
}

/**
 * Fill in the defaults of a stats query (the last hour, one-minute buckets) and check it:
 * `since` before `until`, whole-millisecond buckets of at least a second, at most 1,000 of them.
 */
export function resolveStatsWindow(
  query: RunStatsQuery,
  now: number,
): { since: number; until: number; bucketMs: number } {
  const bucketMs = query.bucketMs ?? DEFAULT_STATS_BUCKET_MS;
  // Without a window, the buckets are whole multiples of bucketMs ending with the current one, so charts
  // polled again keep their bucket edges.
  const aligned = query.until === undefined && query.since === undefined && bucketMs > 0;
  const until = query.until ?? (aligned ? (Math.floor(now / bucketMs) + 1) * bucketMs : now);
  const since =
    query.since ??
    (aligned
      ? until - Math.ceil(DEFAULT_STATS_WINDOW_MS / bucketMs) * bucketMs
      : until - DEFAULT_STATS_WINDOW_MS);
  const bad = (message: string) => new DirigentError("INVALID_ARGUMENT", message, { since, until, bucketMs });
  for (const [name, value] of [
    ["since", since],
    ["until", until],
    ["bucketMs", bucketMs],
  ] as const) {
    if (!Number.isSafeInteger(value)) throw bad(`${name} must be a whole number of milliseconds`);
  }
  if (bucketMs < MIN_STATS_BUCKET_MS) throw bad(`bucketMs must be at least ${MIN_STATS_BUCKET_MS}`);
  if (since >= until) throw bad("since must be before until");
  const buckets = Math.ceil((until - since) / bucketMs);
  if (buckets > MAX_STATS_BUCKETS) {
    throw bad(
      `the window holds ${buckets} buckets of ${bucketMs} ms; at most ${MAX_STATS_BUCKETS}: widen bucketMs or narrow the window`,
    );
  }
  return { since, until, bucketMs };
}
