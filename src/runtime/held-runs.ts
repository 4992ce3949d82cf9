import type { RunClaim, StepAttempt } from "./events.js";
import type { RunExecution } from "./execution.js";

/** A run executing on this node, as observers see it (Engine.inFlight). */
export interface RunInFlight {
  claim: RunClaim;
  attempts: StepAttempt[];
}

/**
 * The executions this node has: active ones (holding a lease, in state active or finishing, or just
 * lost and not yet forgotten) and suspended ones kept hot, so a resume needs no replay, least recently
 * used first (a Map keeps insertion order), at most `maxCached`.
 */
export class HeldRuns {
  private readonly active = new Map<string, RunExecution>();
  private readonly cache = new Map<string, RunExecution>();

  constructor(private readonly maxCached: number) {}

  get activeCount(): number {
    return this.active.size;
  }

  get cachedCount(): number {
    return this.cache.size;
  }

  /** The active execution of a run. */
  activeOf(runId: string): RunExecution | undefined {
    return this.active.get(runId);
  }

  /** The execution of a run, active or cached. */
  hot(runId: string): RunExecution | undefined {
    return this.active.get(runId) ?? this.cache.get(runId);
  }

  /** The execution runs here now (a cached one leaves the cache). */
  activate(exec: RunExecution): void {
    if (this.cache.get(exec.runId) === exec) this.cache.delete(exec.runId);
    this.active.set(exec.runId, exec);
  }

  /** The execution suspended: it leaves the active ones and, if `keep`, joins the cache. */
  suspended(exec: RunExecution, keep: boolean): void {
    if (this.active.get(exec.runId) === exec) this.active.delete(exec.runId);
    if (!keep || this.maxCached <= 0) return;
    this.cache.delete(exec.runId);
    this.cache.set(exec.runId, exec);
    while (this.cache.size > this.maxCached) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  /** The execution finished or was lost. */
  forget(exec: RunExecution): void {
    if (this.active.get(exec.runId) === exec) this.active.delete(exec.runId);
    if (this.cache.get(exec.runId) === exec) this.cache.delete(exec.runId);
  }

  /** Every active execution (a copy: losing one changes the set). */
  activeRuns(): RunExecution[] {
    return [...this.active.values()];
  }

  /** The cached executions, handed over and forgotten (the engine stops). */
  takeCached(): RunExecution[] {
    const all = [...this.cache.values()];
    this.cache.clear();
    return all;
  }

  /** Active executions that hold their lease and may still write (active or finishing). */
  holding(): RunExecution[] {
    return this.activeRuns().filter(holds);
  }

  inFlight(runId: string): RunInFlight | undefined {
    const exec = this.active.get(runId);
    return exec && holds(exec) ? inFlightOf(exec) : undefined;
  }

  runsInFlight(): RunInFlight[] {
    return this.holding().map(inFlightOf);
  }
}

function holds(exec: RunExecution): boolean {
  return exec.state === "active" || exec.state === "finishing";
}

function inFlightOf(exec: RunExecution): RunInFlight {
  return { claim: exec.claim, attempts: exec.attempts.values(exec.runId, exec.def.name) };
}
