import type { StepAttempt } from "./events.js";

/** What an execution records of an attempt in flight: the rest of StepAttempt is the run's own. */
export interface AttemptStart {
  seq: number;
  name: string;
  attempt: number;
  fence: number;
  /** Wall clock, epoch ms with sub-millisecond precision (preciseNow). */
  startedAt: number;
}

/**
 * The step attempts of one run in flight, by seq (kept by the execution while something observes step
 * events, for run:released and Engine.inFlight). A run nearly always runs one step at a time, so the
 * first sits in fields of this object and a Map exists only while steps run in parallel: no object is
 * made per attempt. With thousands of runs in flight, an object per attempt outlives young-generation
 * collections and costs the engine's thread their copying (bench observability-cost).
 */
export class OpenAttempts {
  private seq = -1;
  private name = "";
  private attempt = 0;
  private fence = 0;
  private startedAt = 0;
  private more: Map<number, AttemptStart> | undefined;

  has(seq: number): boolean {
    return seq === this.seq || this.more?.has(seq) === true;
  }

  set(seq: number, name: string, attempt: number, fence: number, startedAt: number): void {
    if (this.seq === seq || (this.seq === -1 && !this.more?.has(seq))) {
      this.seq = seq;
      this.name = name;
      this.attempt = attempt;
      this.fence = fence;
      this.startedAt = startedAt;
    } else {
      (this.more ??= new Map()).set(seq, { seq, name, attempt, fence, startedAt });
    }
  }

  delete(seq: number): void {
    if (seq === this.seq) this.seq = -1;
    else this.more?.delete(seq);
  }

  /** The attempts in flight as their events describe them. */
  values(runId: string, workflow: string): StepAttempt[] {
    const all: StepAttempt[] = [];
    if (this.seq !== -1) {
      const { seq, name, attempt, fence, startedAt } = this;
      all.push({ runId, workflow, fence, seq, name, attempt, startedAt });
    }
    for (const a of this.more?.values() ?? []) all.push({ runId, workflow, ...a });
    return all;
  }
}
