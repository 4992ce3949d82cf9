import { buildHistory, type RunHistory } from "../core/history.js";
import type { QueueInfo, RunFilter, RunPage, RunRecord, ScheduleRecord } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import type { DirigentClient, ScheduleSpec, StartOptions, StartResult, WorkflowInfo } from "./client.js";

/** The client API served by an engine in this process. */
export class LocalClient implements DirigentClient {
  constructor(readonly engine: Engine) {}

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

  result(runId: string, options: { timeoutMs?: number } = {}): Promise<RunRecord> {
    return this.engine.waitForFinish(runId, options.timeoutMs);
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
}
