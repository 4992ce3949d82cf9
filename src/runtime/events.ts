import type { ErrorInfo, RunStatus } from "../core/types.js";

/**
 * A node's claim on a run: the `run:claimed` payload. The execution keeps it, and the events that end
 * the claim (run:suspended, run:finished, run:released) carry it again, so an observer needs no memory
 * of its own per run (with thousands of runs in flight, such memory costs the engine's thread dearly
 * in garbage collection).
 */
export interface RunClaim {
  runId: string;
  workflow: string;
  fence: number;
  replay: boolean;
  /** True when claimed because the previous owner's lease ran out (known where the store tells). */
  takeover?: boolean;
  /**
   * The claim continues a run begun earlier by another execution (one that replays the journal, takes
   * over, or claims a run this process never ran): its trace links back to the run's root.
   */
  resumed: boolean;
  /** When the claim began: wall clock, epoch ms with sub-millisecond precision (not the engine's clock). */
  claimedAt: number;
}

/** One step attempt as its events report it (the attempt's span derives from these fields alone). */
export interface StepAttempt {
  runId: string;
  workflow: string;
  /** The claim the attempt runs under. */
  fence: number;
  seq: number;
  name: string;
  attempt: number;
  /** When the attempt began: wall clock, epoch ms with sub-millisecond precision (not the engine's clock). */
  startedAt: number;
}

/**
 * Why this node stopped executing a run without suspending or finishing it (run:released): its lease
 * was lost (self-fencing), the engine is stopping, the run was terminated, a newer claim replaced this
 * one, a write failed (database error) or was refused (another node holds the run now), or the code
 * went on while suspended.
 */
export type ReleaseCause =
  | "lease-lost"
  | "engine-stopping"
  | "terminated"
  | "superseded"
  | "write-failed"
  | "write-refused"
  | "stale-code";

/** Typed lifecycle events (`noun:verb`). Logs, metrics and live feeds all read these. */
export interface EngineEventMap {
  "run:created": { runId: string; workflow: string };
  "run:claimed": RunClaim;
  "run:suspended": { runId: string; workflow: string; wakeAt?: number; claim: RunClaim };
  /**
   * This node stopped executing a run because it no longer safely holds its lease (see LeaseKeeper): its
   * running steps' signal was aborted and it writes nothing more for it. The run is not failed: it is
   * claimed again, by any node, once its lease ran out, and replays. Also reported on `engine:error`.
   * A run:released (cause "lease-lost") follows at once.
   */
  "run:lease-lost": {
    runId: string;
    workflow: string;
    fence: number;
    reason: LeaseLossReason;
    /** Time since the lease was last confirmed (claim or renewal sent), by the node's monotonic clock. */
    sinceRenewalMs: number;
  };
  /**
   * This node stopped executing a run under `claim` without suspending or finishing it (see
   * ReleaseCause): the claim ends here, and so do the listed attempts, which were in flight and will
   * report no end. (When this node adopts a newer fence for a run it still executes, the old claim is
   * released with cause "superseded" and no attempts: they go on and report their end.)
   */
  "run:released": {
    runId: string;
    workflow: string;
    cause: ReleaseCause;
    claim: RunClaim;
    attempts: StepAttempt[];
  };
  "run:finished": {
    runId: string;
    workflow: string;
    status: RunStatus;
    error?: ErrorInfo;
    /**
     * From the run's creation to now, by the engine's clock: known whenever this node executed the run
     * (created it, or claimed it and read its record); absent for a run terminated while not held here.
     */
    durationMs?: number;
    /** The claim it finished under; absent for a run terminated while not executing here. */
    claim?: RunClaim;
  };
  "step:started": StepAttempt;
  /** `durationMs` in the step events: the attempt's duration by the engine's clock. */
  "step:completed": StepAttempt & { durationMs: number };
  "step:retrying": StepAttempt & { durationMs: number; delayMs: number; error: ErrorInfo };
  "step:failed": StepAttempt & { durationMs: number; error: ErrorInfo };
  /** A worker leased a task (once per leased task). */
  "task:leased": {
    queue: string;
    taskId: string;
    runId: string;
    name: string;
    attempt: number;
    workerId: string;
    /** When the task became ready for this attempt. */
    availableAt: number;
    /** When it was leased. */
    leasedAt: number;
  };
  "engine:error": { error: unknown; context: string };
}

/**
 * "not-renewed": the store refused the renewal (another node took the run over, it was terminated, or
 * the lease ran out). "renewal-overdue": no renewal succeeded for most of the lease (database
 * unreachable or too slow), so another node may soon claim the run.
 */
export type LeaseLossReason = "not-renewed" | "renewal-overdue";

type Listener<T> = (payload: T) => void;

/**
 * A small emitter whose listeners cannot break the engine: a throwing listener is reported on
 * `engine:error` (or dropped if that one throws too) and the engine carries on.
 */
export class EngineEvents {
  private listeners = new Map<keyof EngineEventMap, Set<Listener<any>>>();

  on<K extends keyof EngineEventMap>(event: K, fn: Listener<EngineEventMap[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  has(event: keyof EngineEventMap): boolean {
    return this.listenerCount(event) > 0;
  }

  listenerCount(event: keyof EngineEventMap): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof EngineEventMap>(event: K, payload: EngineEventMap[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of set) {
      try {
        fn(payload);
      } catch (error) {
        if (event !== "engine:error") this.emit("engine:error", { error, context: `listener of ${event}` });
      }
    }
  }
}

/** A step's outgoing call, for which tracing may supply a W3C traceparent (EngineOptions.traceparent). */
export interface OutgoingCall {
  kind: "http" | "task";
  runId: string;
  workflow: string;
  /** Journal seq of the step or task (its idempotency key is `<runId>:<seq>`). */
  seq: number;
  name: string;
  /** The attempt making the call (http); 0 for a task being queued. */
  attempt: number;
  /** The claim the call is made under. */
  fence: number;
  /** The task's queue (kind "task"). */
  queue?: string;
}
