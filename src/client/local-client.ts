import { buildHistory, type RunHistory } from "../core/history.js";
import type { RunFilter, RunPage, RunRecord } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import type { DirigentClient, StartOptions, StartResult, WorkflowInfo } from "./client.js";

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

  async workflows(): Promise<WorkflowInfo[]> {
    return this.engine.registry.list();
  }
}
