// Following a run as it makes progress: `workflow execute` and `workflow show --follow`.
import { setTimeout as delay } from "node:timers/promises";
import type { HistoryEvent } from "../core/history.js";
import { isTerminalStatus, type RunRecord } from "../core/types.js";
import { c, stripAnsi } from "./colors.js";
import { colorStatus, eventLine, historyTable } from "./format.js";
import type { IdleOutcome } from "./idle.js";
import type { Output } from "./output.js";
import type { Session } from "./session.js";

/** Why following stopped: the run finished, nothing more can happen here, the wait ran out, or Ctrl-C. */
export type FollowOutcome = "finished" | IdleOutcome;

export interface FollowResult {
  run: RunRecord;
  events: HistoryEvent[];
  outcome: FollowOutcome;
}

/** Longer than anyone waits: following without a deadline. */
const FOREVER_MS = 1e12;

/**
 * Poll the run's history until it is final, showing events as they come: on a terminal a table
 * redrawn in place, in a pipe or file one line per new event, in jsonl one JSON object per event (each
 * with its runId); json shows nothing until the caller prints the result. Stops early when `waitMs`
 * passes, on Ctrl-C, or (local mode) when no run can make progress in this process any more.
 */
export async function followRun(
  out: Output,
  session: Session,
  runId: string,
  options: { waitMs?: number } = {},
): Promise<FollowResult> {
  const waitMs = options.waitMs ?? FOREVER_MS;
  const deadline = Date.now() + waitMs;
  const startedAt = Date.now();
  const view = out.format === "table" && out.isTTY ? new LiveView(out) : undefined;
  const seen = new Set<string>();
  const stopIdleWatch = new AbortController();
  let idle: IdleOutcome | undefined;
  const idleWatch = session.whenIdle(waitMs, stopIdleWatch.signal)?.then((outcome) => {
    idle = outcome;
  });
  try {
    for (;;) {
      const idleBefore = idle;
      const { run, events } = await session.client.history(runId);
      const fresh = events.filter((e) => {
        const key = eventKey(e);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      const finished = isTerminalStatus(run.status);
      if (view) view.draw(liveText(run, events, finished ? undefined : Date.now() - startedAt, out.size));
      else if (out.format === "jsonl") for (const e of fresh) out.line({ runId, ...e });
      else if (out.format === "table") for (const e of fresh) out.write(`${eventLine(e)}\n`);

      if (finished) return { run, events, outcome: "finished" };
      if (session.interrupted.aborted) return { run, events, outcome: "interrupted" };
      // Idle was seen before this look at the history began, so the history is as final as it gets.
      if (idleBefore !== undefined) return { run, events, outcome: idleBefore };
      if (Date.now() >= deadline) return { run, events, outcome: "timeout" };
      await delay(Math.max(1, Math.min(session.pollMs, deadline - Date.now())), undefined, {
        signal: session.interrupted,
      }).catch(() => {});
    }
  } finally {
    stopIdleWatch.abort();
    await idleWatch;
  }
}

function eventKey(e: HistoryEvent): string {
  return `${e.type}|${e.seq ?? ""}|${e.attempt ?? ""}|${e.name ?? ""}|${e.time}`;
}

/** The live table: the history, then (while running) a status line with the time so far. */
export function liveText(
  run: RunRecord,
  events: HistoryEvent[],
  elapsedMs: number | undefined,
  size: { columns: number; rows: number },
): string {
  const status =
    elapsedMs === undefined
      ? undefined
      : `${colorStatus(run.status)} ${c.dim(`· ${Math.floor(elapsedMs / 1000)} s · Ctrl-C stops following`)}`;
  // Keep the drawing within the screen: redrawing in place cannot reach lines scrolled off the top.
  const room = Math.max(3, size.rows - 2);
  for (let shown = events.length; ; shown = Math.max(1, Math.floor(shown * 0.8))) {
    const hidden = events.length - shown;
    const parts = [
      hidden > 0 ? c.dim(`… ${hidden} earlier events (see "workflow show ${run.runId}")`) : undefined,
      historyTable(events.slice(hidden)),
      status,
    ].filter((p): p is string => p !== undefined);
    const text = parts.join("\n");
    if (shown <= 1 || visualLines(text, size.columns) <= room) return text;
  }
}

/** How many terminal lines `text` takes once long lines wrap. */
export function visualLines(text: string, columns: number): number {
  const width = Math.max(1, columns);
  return text
    .split("\n")
    .reduce((sum, line) => sum + Math.max(1, Math.ceil(stripAnsi(line).length / width)), 0);
}

/** A block of text redrawn in place on a terminal: each draw replaces the previous one. */
export class LiveView {
  private lines = 0;
  private last: string | undefined;

  constructor(private readonly out: Output) {}

  draw(text: string): void {
    if (text === this.last) return;
    this.last = text;
    // Back to the first line of the previous drawing (cursor up, column 1), then erase to the end.
    const clear = this.lines > 0 ? `\x1b[${this.lines}A\r\x1b[J` : "";
    this.out.write(`${clear}${text}\n`);
    this.lines = visualLines(text, this.out.size.columns);
  }
}
