import { isTerminalStatus, type RunRecord } from "../../core/types.js";
import type { CliContext } from "../context.js";
import type { FollowResult } from "../follow.js";
import type { IdleOutcome } from "../idle.js";
import type { Output } from "../output.js";
import type { Session } from "../session.js";

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

/**
 * After following a run: exit 1 unless it completed (130 after Ctrl-C, set by the session), and say on
 * stderr why following stopped before the end.
 */
export function noteFollowOutcome(ctx: CliContext, session: Session, followed: FollowResult): void {
  const { run, outcome } = followed;
  if (run.status !== "completed") ctx.exitCode = 1;
  if (outcome === "finished") return;
  const where =
    session.mode === "remote"
      ? "it continues on the server"
      : "it continues the next time it is executed (a command with --module, or a server on this database)";
  if (outcome === "interrupted") {
    ctx.out.note(`stopped following: run ${run.runId} is ${run.status}; ${where}`);
  } else if (outcome === "timeout") {
    ctx.out.note(`stopped following: run ${run.runId} is still ${run.status}; ${where}`);
  } else {
    ctx.out.note(
      `run ${run.runId} is ${run.status}: suspended durably on a signal or a later timer ` +
        `(send a signal with "workflow signal", or follow it again with "workflow show ${run.runId} --follow")`,
    );
  }
}
