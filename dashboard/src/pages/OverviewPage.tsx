// Overview: runs started, completed and failed over time, the failure rate, step latency percentiles,
// and the latest failures.
import { useMemo, useState } from "react";
import { useRuns, useStats, useWorkflows } from "../api/queries.js";
import { TimeChart } from "../components/Chart.js";
import { Loading, QueryError } from "../components/common.js";
import { formatDuration, formatPercent } from "../lib/format.js";
import { Link } from "../router.js";
import { RunTable } from "./RunsPage.js";

const WINDOWS = [
  { value: "1h", label: "Last hour", windowMs: 3_600_000, bucketMs: 60_000 },
  { value: "6h", label: "Last 6 hours", windowMs: 6 * 3_600_000, bucketMs: 5 * 60_000 },
  { value: "24h", label: "Last 24 hours", windowMs: 86_400_000, bucketMs: 15 * 60_000 },
  { value: "7d", label: "Last 7 days", windowMs: 7 * 86_400_000, bucketMs: 2 * 3_600_000 },
];

export function OverviewPage() {
  const [windowKey, setWindowKey] = useState("1h");
  const [workflow, setWorkflow] = useState("");
  const w = WINDOWS.find((x) => x.value === windowKey) ?? WINDOWS[0];
  const stats = useStats({ windowMs: w.windowMs, bucketMs: w.bucketMs, workflow: workflow || undefined });
  const workflows = useWorkflows();
  const failures = useRuns({ status: ["failed"], workflow: workflow || undefined, limit: 5 });

  const data = stats.data;
  const chart = useMemo(() => {
    if (!data) return undefined;
    const times = data.buckets.map((b) => b.t);
    const started = data.buckets.map((b) => b.started);
    const completed = data.buckets.map((b) => b.completed);
    const failed = data.buckets.map((b) => b.failed);
    const rate = data.buckets.map((b) =>
      b.completed + b.failed > 0 ? b.failed / (b.completed + b.failed) : null,
    );
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return {
      times,
      started,
      completed,
      failed,
      rate,
      totals: { started: sum(started), completed: sum(completed), failed: sum(failed) },
    };
  }, [data]);

  const latency = data?.stepLatencyMs;
  const maxLatency = Math.max(1, latency?.p99 ?? 0, latency?.p95 ?? 0, latency?.p50 ?? 0);

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Overview</h1>
          <div className="sub">
            {w.label}, in buckets of {formatDuration(w.bucketMs)}
            {stats.isFetching && !stats.isLoading && <span className="refreshing">updating…</span>}
          </div>
        </div>
        <div className="filters">
          <div className="field">
            <label htmlFor="ov-window">Window</label>
            <select id="ov-window" value={windowKey} onChange={(e) => setWindowKey(e.target.value)}>
              {WINDOWS.map((x) => (
                <option key={x.value} value={x.value}>
                  {x.label}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="ov-workflow">Workflow</label>
            <select id="ov-workflow" value={workflow} onChange={(e) => setWorkflow(e.target.value)}>
              <option value="">All workflows</option>
              {workflows.data?.workflows.map((x) => (
                <option key={x.name} value={x.name}>
                  {x.name}
                </option>
              ))}
            </select>
          </div>
        </div>
      </div>

      {stats.error != null && <QueryError error={stats.error} what="statistics (GET /api/v1/stats)" />}
      {stats.isLoading && <Loading what="statistics" />}

      {chart && data && (
        <>
          <div className="cards" data-testid="overview-cards">
            <div className="card">
              <div className="label">Runs started</div>
              <div className="value">{chart.totals.started}</div>
            </div>
            <div className="card">
              <div className="label">Completed</div>
              <div className="value" style={{ color: "var(--ok)" }}>
                {chart.totals.completed}
              </div>
            </div>
            <div className="card">
              <div className="label">Failed</div>
              <div className="value" style={{ color: "var(--danger)" }}>
                {chart.totals.failed}
              </div>
            </div>
            <div className="card">
              <div className="label">Failure rate</div>
              <div className="value">{formatPercent(data.failureRate)}</div>
            </div>
            <div className="card">
              <div className="label">Step latency p95</div>
              <div className="value">{formatDuration(latency?.p95)}</div>
            </div>
          </div>
          <div className="grid-2">
            <section className="panel" aria-labelledby="ov-runs">
              <h2 id="ov-runs">Runs over time</h2>
              <TimeChart
                times={chart.times}
                series={[
                  { label: "started", color: "#0b57c2", values: chart.started },
                  { label: "completed", color: "#2f9e5a", values: chart.completed },
                  { label: "failed", color: "#c0262c", values: chart.failed },
                ]}
                summary={`${chart.totals.started} started, ${chart.totals.completed} completed, ${chart.totals.failed} failed in the window.`}
              />
            </section>
            <section className="panel" aria-labelledby="ov-rate">
              <h2 id="ov-rate">Failure rate</h2>
              <TimeChart
                times={chart.times}
                series={[
                  {
                    label: "failed share",
                    color: "#c0262c",
                    values: chart.rate,
                    fill: "rgba(192,38,44,0.12)",
                  },
                ]}
                yFormat={(v) => `${Math.round(v * 100)}%`}
                summary={`Share of the runs that ended in each bucket that failed; ${formatPercent(data.failureRate)} over the window.`}
              />
            </section>
          </div>
        </>
      )}
      <div className="grid-2">
        {latency && (
          <section className="panel" aria-labelledby="ov-lat">
            <h2 id="ov-lat">Step latency</h2>
            <p className="muted" style={{ marginTop: 0 }}>
              First attempt start to completion, over {latency?.count ?? 0} completed steps and tasks.
            </p>
            <ul className="bars" aria-label="Step latency percentiles">
              {(["p50", "p95", "p99"] as const).map((p) => {
                const v = latency?.[p] ?? null;
                return (
                  <li className="bar-row" key={p}>
                    <span className="mono">{p}</span>
                    <div className="bar-track" aria-hidden="true">
                      <div
                        className="bar-fill"
                        style={{ width: `${v === null ? 0 : Math.max(1, (v / maxLatency) * 100)}%` }}
                      />
                    </div>
                    <span className="num">{formatDuration(v)}</span>
                  </li>
                );
              })}
            </ul>
          </section>
        )}
        <section className="panel" aria-labelledby="ov-fail">
          <h2 id="ov-fail">
            Latest failures{" "}
            <Link to={`/runs?status=failed${workflow ? `&workflow=${encodeURIComponent(workflow)}` : ""}`}>
              (all)
            </Link>
          </h2>
          {failures.error != null && <QueryError error={failures.error} what="failed runs" />}
          {failures.data && failures.data.runs.length === 0 && <p className="muted">No failed runs.</p>}
          {failures.data && <RunTable runs={failures.data.runs} showParent={false} />}
        </section>
      </div>
    </>
  );
}
