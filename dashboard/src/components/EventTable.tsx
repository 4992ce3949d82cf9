// A run's event history: every lifecycle event, attempt, signal and compensation in time order.
import type { HistoryEvent } from "../api/types.js";
import { formatTime } from "../lib/format.js";
import { StatusBadge } from "./common.js";

const TONE: Record<string, string> = {
  "run:created": "pending",
  "run:started": "running",
  "step:completed": "completed",
  "undo:completed": "compensated",
  "step:attempt-failed": "retrying",
  "step:retrying": "retrying",
  "step:failed": "failed",
  "undo:failed": "failed",
  "step:waiting": "waiting",
  "signal:received": "running",
};

function summary(e: HistoryEvent): string {
  if (e.error) return e.error.message + (e.error.code ? ` (${e.error.code})` : "");
  if (e.type === "step:retrying" && e.wakeAt)
    return `next attempt at ${formatTime(e.wakeAt, Date.now(), true)}`;
  if (e.type === "step:waiting" && e.wakeAt) return `until ${formatTime(e.wakeAt, Date.now(), true)}`;
  if (e.type === "run:created") {
    const d = e.detail as { workflow?: string; version?: string } | undefined;
    return d ? `${d.workflow ?? ""} v${d.version ?? ""}` : "";
  }
  if (e.result !== undefined) {
    const text = JSON.stringify(e.result);
    return text.length > 120 ? `${text.slice(0, 117)}…` : text;
  }
  return "";
}

export function EventTable({ events }: { events: HistoryEvent[] }) {
  if (events.length === 0) return <p className="muted">No events.</p>;
  const now = Date.now();
  return (
    <div className="table-wrap">
      <table data-testid="event-table">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Event</th>
            <th scope="col">Step</th>
            <th scope="col" className="num">
              Attempt
            </th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e, i) => (
            <tr key={`${e.time}-${e.type}-${e.seq ?? ""}-${i}`}>
              <td className="mono">{formatTime(e.time, now, true)}</td>
              <td>
                <StatusBadge
                  status={e.type === "run:finished" ? (e.status ?? "none") : (TONE[e.type] ?? "none")}
                  label={e.type}
                />
              </td>
              <td>
                {e.name ?? ""}
                {e.seq !== undefined && !e.type.startsWith("undo:") && (
                  <span className="muted"> #{e.seq}</span>
                )}
              </td>
              <td className="num">{e.attempt ?? ""}</td>
              <td className="mono" style={{ wordBreak: "break-word" }}>
                {summary(e)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
