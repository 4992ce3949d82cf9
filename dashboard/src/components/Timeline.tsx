// The timeline of a run: each step a row, each attempt a bar on one time axis; failed attempts red,
// the backoff before a retry and durable waits hatched, the gap before an attempt a retry of the failed
// run started hatched in its own colour, things still going end in a dashed edge.

import { formatDuration, formatTime } from "../lib/format.js";
import type { TimelineData } from "../lib/timeline.js";
import { ticks } from "../lib/timeline.js";
import { Link, runPath } from "../router.js";

export function Timeline({ data, childRuns }: { data: TimelineData; childRuns?: Map<number, string> }) {
  const span = data.end - data.start;
  const pct = (t: number) => `${(((t - data.start) / span) * 100).toFixed(3)}%`;
  const width = (a: number, b: number) => `${(Math.max(0, b - a) / span) * 100}%`;
  if (data.rows.length === 0) return <p className="muted">No steps recorded yet.</p>;
  return (
    <div className="timeline" data-testid="timeline">
      <div className="tl-axis" aria-hidden="true">
        {ticks(data.start, data.end).map((t) => (
          <span key={t} style={{ left: pct(data.start + t) }}>
            {t === 0 ? formatTime(data.start) : `+${formatDuration(t)}`}
          </span>
        ))}
      </div>
      <ul aria-label="Steps on a time axis" style={{ listStyle: "none", margin: 0, padding: 0 }}>
        {data.rows.map((row) => {
          const child = childRuns?.get(row.seq);
          const summary = row.segments
            .map((s) => `${s.label} (${formatDuration(s.end - s.start)})`)
            .join("; ");
          return (
            <li
              key={row.seq}
              className="tl-row"
              data-testid={`timeline-row-${row.name}`}
              data-attempts={row.attempts}
            >
              <div className="tl-label" title={`${row.name} (${row.kind}, seq ${row.seq})`}>
                {child ? <Link to={runPath(child)}>{row.name}</Link> : row.name}
                {row.attempts > 1 && <span className="retried"> ×{row.attempts}</span>}
              </div>
              <div className="tl-track" role="img" aria-label={`${row.name}: ${summary || row.status}`}>
                {row.segments.map((s, i) => (
                  <div
                    key={`${s.kind}-${i}`}
                    className={`tl-bar ${s.kind}${s.open ? " open" : ""}`}
                    data-kind={s.kind}
                    style={{ left: pct(s.start), width: width(s.start, s.end) }}
                    title={`${s.label}\n${formatTime(s.start, Date.now(), true)} → ${s.open ? "now" : formatTime(s.end, Date.now(), true)} (${formatDuration(s.end - s.start)})`}
                  />
                ))}
              </div>
            </li>
          );
        })}
      </ul>
      <div className="tl-legend" aria-hidden="true">
        <span>
          <i style={{ background: "#2f9e5a" }} />
          attempt completed
        </span>
        <span>
          <i style={{ background: "#c0262c" }} />
          attempt failed
        </span>
        <span>
          <i className="tl-bar backoff" style={{ position: "static", display: "inline-block" }} />
          backoff before retry
        </span>
        <span>
          <i className="tl-bar manual-retry" style={{ position: "static", display: "inline-block" }} />
          failed, retried by user
        </span>
        <span>
          <i className="tl-bar wait" style={{ position: "static", display: "inline-block" }} />
          durable wait (sleep, signal, child, task)
        </span>
        <span>total {formatDuration(span)}</span>
      </div>
    </div>
  );
}
