import type { ErrorInfo, RunStatus } from "../core/types.js";

/** Typed lifecycle events (`noun:verb`). Logs, metrics and live feeds all read these. */
export interface EngineEventMap {
  "run:created": { runId: string; workflow: string };
  "run:claimed": {
    runId: string;
    workflow: string;
    fence: number;
    replay: boolean;
    /** True when claimed because the previous owner's lease ran out (known where the store tells). */
    takeover?: boolean;
  };
  "run:suspended": { runId: string; wakeAt?: number };
  /**
   * This node stopped executing a run because it no longer safely holds its lease (see LeaseKeeper): its
   * running steps' signal was aborted and it writes nothing more for it. The run is not failed: it is
   * claimed again, by any node, once its lease ran out, and replays. Also reported on `engine:error`.
   */
  "run:lease-lost": {
    runId: string;
    workflow: string;
    fence: number;
    reason: LeaseLossReason;
    /** Time since the lease was last confirmed (claim or renewal sent), by the node's monotonic clock. */
    sinceRenewalMs: number;
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
  };
  "step:started": { runId: string; seq: number; name: string; attempt: number };
  "step:completed": { runId: string; seq: number; name: string; attempt: number; durationMs: number };
  "step:retrying": {
    runId: string;
    seq: number;
    name: string;
    attempt: number;
    delayMs: number;
    error: ErrorInfo;
  };
  "step:failed": { runId: string; seq: number; name: string; attempt: number; error: ErrorInfo };
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
  /** The task's queue (kind "task"). */
  queue?: string;
}
