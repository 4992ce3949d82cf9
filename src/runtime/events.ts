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
  "run:finished": {
    runId: string;
    workflow: string;
    status: RunStatus;
    error?: ErrorInfo;
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
