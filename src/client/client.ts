import type { HistoryEvent, RunHistory } from "../core/history.js";
import type { RunFilter, RunPage, RunRecord } from "../core/types.js";

export type { StartOptions, StartResult } from "../runtime/engine.js";
export type { HistoryEvent, RunHistory };

import type { StartOptions, StartResult } from "../runtime/engine.js";

export interface WorkflowInfo {
  name: string;
  versions: string[];
  latest: string;
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
  /** Wait until the run is final and return it (whatever its status); RESULT_TIMEOUT past `timeoutMs`. */
  result(runId: string, options?: { timeoutMs?: number }): Promise<RunRecord>;
  signal(runId: string, name: string, payload?: unknown): Promise<{ signalId: number }>;
  /** Cooperative: the run stops at its next durable point and compensates, then ends cancelled. */
  cancel(runId: string): Promise<void>;
  /** Immediate: no compensation, the owner's further writes are refused. */
  terminate(runId: string, reason?: string): Promise<void>;
  workflows(): Promise<WorkflowInfo[]>;
}
