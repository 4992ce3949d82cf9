import type { Clock } from "../core/clock.js";
import type { RetryPolicy } from "../core/retry.js";
import type { ErrorInfo, RunStatus } from "../core/types.js";
import type { Store } from "../store/store.js";
import type { EngineEvents, OutgoingCall, ReleaseCause } from "./events.js";
import type { RunExecution } from "./execution.js";
import type { WorkflowDefinition } from "./workflow.js";
import type { WriteBatcher } from "./write-batcher.js";

/** What a run execution needs from the engine that hosts it (keeps execution.ts free of engine.ts). */
export interface ExecutionHost {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly store: Store;
  readonly batcher: WriteBatcher;
  readonly events: EngineEvents;
  readonly leaseMs: number;
  readonly maxPayloadBytes: number;
  readonly defaultRetry: RetryPolicy;
  /** Randomness for retry jitter (not replayed: the chosen delay is stored). */
  random(): number;
  resolveWorkflow(name: string, version?: string): WorkflowDefinition | undefined;
  /** Whether the engine has room to run a child it starts at once. */
  hasCapacity(): boolean;
  /** The clock leases are measured with: monotonic milliseconds (see Clock.monotonic). */
  monotonicNow(): number;
  /**
   * Begin executing a run this node created already claimed (fence 1). `claimedAt`: monotonicNow()
   * when the claiming write was made (its lease counts from then).
   */
  launch(
    runId: string,
    def: WorkflowDefinition,
    input: unknown,
    deadlineAt?: number,
    parentRunId?: string,
    claimedAt?: number,
  ): void;
  /** The traceparent for a step's outgoing call, if tracing is on. */
  traceparent(call: OutgoingCall): string | undefined;
  /** A task was queued on `queue`: wake workers long-polling it. */
  notifyQueue(queue: string): void;
  onSuspended(exec: RunExecution, wakeAt: number | undefined): void;
  onFinished(exec: RunExecution, status: RunStatus, error?: ErrorInfo): void;
  /** `held`: the execution held its claim (was not suspended) when it was lost. */
  onLost(exec: RunExecution, reason: string, cause: ReleaseCause, error: Error, held: boolean): void;
}
