// The ids of a run's spans, all derived from the run id: the same on every node and in every thread.
import { runRootSpanContext, runSpanId } from "./trace-context.js";

/** The trace id and root span id of a run. */
export interface RunIds {
  traceId: string;
  rootSpanId: string;
}

export class SpanIds {
  constructor(private readonly namespace: string) {}

  run(runId: string): RunIds {
    const root = runRootSpanContext(runId, true, this.namespace);
    return { traceId: root.traceId, rootSpanId: root.spanId };
  }

  /** The claim span ("execute") of the claim with this fence. */
  claim(runId: string, fence: number): string {
    return runSpanId(runId, `c${fence}`, this.namespace);
  }

  /** A step attempt made under the claim with this fence. */
  attempt(runId: string, fence: number, seq: number, attempt: number): string {
    return runSpanId(runId, `s${fence}.${seq}.${attempt}`, this.namespace);
  }

  /** The PRODUCER span of a task queued under the claim with this fence. */
  task(runId: string, fence: number, seq: number): string {
    return runSpanId(runId, `t${fence}.${seq}`, this.namespace);
  }
}
