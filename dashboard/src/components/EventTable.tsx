// A run's event history: every lifecycle event, attempt, signal and compensation in time order.
import type { HistoryEvent } from "../api/types.js";
import { formatTime } from "../lib/format.js";
import { eventSummary, eventTone } from "../lib/history-events.js";
import { StatusBadge } from "./common.js";

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
                <StatusBadge status={eventTone(e)} label={e.type} />
              </td>
              <td>
                {e.name ?? ""}
                {e.seq !== undefined && !e.type.startsWith("undo:") && (
                  <span className="muted"> #{e.seq}</span>
                )}
              </td>
              <td className="num">{e.attempt ?? ""}</td>
              <td className="mono" style={{ wordBreak: "break-word" }}>
                {eventSummary(e, now)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
