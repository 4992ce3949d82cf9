import { isTerminalStatus, type RunRecord } from "../../core/types.js";
import type { IdleOutcome } from "../idle.js";
import type { Output } from "../output.js";

/** Tell the user (on stderr) why a run is not finished after a local command stopped executing. */
export function noteProgress(out: Output, run: RunRecord, outcome: IdleOutcome, waitMs: number): void {
  if (isTerminalStatus(run.status)) return;
  if (outcome === "interrupted") {
    out.note(`interrupted: run ${run.runId} is ${run.status}; it continues the next time it is executed`);
  } else if (outcome === "timeout") {
    out.note(
      `run ${run.runId} is still ${run.status} after ${waitMs} ms; continue it with "workflow result ${run.runId} --wait --module <file>"`,
    );
  } else {
    out.note(
      `run ${run.runId} is ${run.status}: suspended durably on a signal or a later timer ` +
        `(send a signal with "workflow signal", or wait with "workflow result --wait")`,
    );
  }
}
