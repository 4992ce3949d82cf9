// Runs: filters (status, workflow, time range, id search) kept in the URL, one page of 50 at a time
// through the API's cursor, the first page kept fresh by the live feed.
import { useEffect, useMemo, useState } from "react";
import type { RunListParams } from "../api/client.js";
import { useRuns, useWorkflows } from "../api/queries.js";
import { RUN_STATUSES, type RunRecord, type RunStatus } from "../api/types.js";
import { Loading, QueryError, StatusBadge, useNow } from "../components/common.js";
import { formatAgo, formatDuration, formatTime, fromLocalInput, toLocalInput } from "../lib/format.js";
import { Link, runPath, useSearchParams } from "../router.js";

const PAGE_SIZE = 50;

const RANGES: { value: string; label: string; ms?: number }[] = [
  { value: "", label: "Any time" },
  { value: "15m", label: "Last 15 minutes", ms: 15 * 60_000 },
  { value: "1h", label: "Last hour", ms: 3_600_000 },
  { value: "24h", label: "Last 24 hours", ms: 86_400_000 },
  { value: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
  { value: "custom", label: "Between…" },
];

export function RunsPage() {
  const [search, setSearch] = useSearchParams();
  const statuses = (search.get("status") ?? "")
    .split(",")
    .filter((s): s is RunStatus => (RUN_STATUSES as string[]).includes(s));
  const workflow = search.get("workflow") ?? "";
  const range = search.get("range") ?? "";
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  const q = search.get("q") ?? "";
  const [idText, setIdText] = useState(q);
  const [cursors, setCursors] = useState<string[]>([]);
  const minute = Math.floor(useNow(60_000) / 60_000) * 60_000;

  // Debounced id search.
  useEffect(() => {
    if (idText === q) return;
    const t = setTimeout(() => setSearch({ q: idText.trim() || undefined }), 300);
    return () => clearTimeout(t);
  }, [idText, q, setSearch]);

  const filter = useMemo<RunListParams>(() => {
    const preset = RANGES.find((r) => r.value === range);
    return {
      status: statuses.length ? statuses : undefined,
      workflow: workflow || undefined,
      q: q || undefined,
      createdAfter: preset?.ms ? minute - preset.ms : range === "custom" ? fromLocalInput(from) : undefined,
      createdBefore: range === "custom" ? fromLocalInput(to) : undefined,
      limit: PAGE_SIZE,
    };
    // statuses is derived from the URL string; depend on that string.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search.get("status"), workflow, q, range, from, to, minute]);

  // New filters start again from the first page.
  const filterKey = JSON.stringify({
    ...filter,
    createdAfter: range === "custom" ? filter.createdAfter : range,
  });
  useEffect(() => setCursors([]), [filterKey]);

  const cursor = cursors[cursors.length - 1];
  const runs = useRuns({ ...filter, cursor });
  const workflows = useWorkflows();

  const toggleStatus = (s: RunStatus) => {
    const next = statuses.includes(s) ? statuses.filter((x) => x !== s) : [...statuses, s];
    setSearch({ status: next.join(",") || undefined });
  };

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Runs</h1>
          <div className="sub">Newest first, {PAGE_SIZE} per page.</div>
        </div>
      </div>
      <section className="panel" aria-label="Filters">
        <div className="filters">
          <div className="field">
            <label htmlFor="f-q">Run id contains</label>
            <input
              id="f-q"
              type="search"
              value={idText}
              placeholder="e.g. order-42"
              onChange={(e) => setIdText(e.target.value)}
            />
          </div>
          <fieldset>
            <legend>Status</legend>
            <div className="checks">
              {RUN_STATUSES.map((s) => (
                <label key={s} className="check">
                  <input type="checkbox" checked={statuses.includes(s)} onChange={() => toggleStatus(s)} />
                  {s}
                </label>
              ))}
            </div>
          </fieldset>
          <div className="field">
            <label htmlFor="f-workflow">Workflow</label>
            <select
              id="f-workflow"
              value={workflow}
              onChange={(e) => setSearch({ workflow: e.target.value || undefined })}
            >
              <option value="">All workflows</option>
              {workflows.data?.workflows.map((w) => (
                <option key={w.name} value={w.name}>
                  {w.name}
                </option>
              ))}
              {workflow && !workflows.data?.workflows.some((w) => w.name === workflow) && (
                <option value={workflow}>{workflow}</option>
              )}
            </select>
          </div>
          <div className="field">
            <label htmlFor="f-range">Created</label>
            <select
              id="f-range"
              value={range}
              onChange={(e) => setSearch({ range: e.target.value || undefined })}
            >
              {RANGES.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
          </div>
          {range === "custom" && (
            <>
              <div className="field">
                <label htmlFor="f-from">From</label>
                <input
                  id="f-from"
                  type="datetime-local"
                  value={from ? toLocalInput(Number(from)) : ""}
                  onChange={(e) =>
                    setSearch({ from: String(fromLocalInput(e.target.value) ?? "") || undefined })
                  }
                />
              </div>
              <div className="field">
                <label htmlFor="f-to">To</label>
                <input
                  id="f-to"
                  type="datetime-local"
                  value={to ? toLocalInput(Number(to)) : ""}
                  onChange={(e) =>
                    setSearch({ to: String(fromLocalInput(e.target.value) ?? "") || undefined })
                  }
                />
              </div>
            </>
          )}
          {(statuses.length > 0 || workflow || range || q) && (
            <button
              type="button"
              onClick={() => {
                setIdText("");
                setSearch({
                  status: undefined,
                  workflow: undefined,
                  range: undefined,
                  from: undefined,
                  to: undefined,
                  q: undefined,
                });
              }}
            >
              Clear filters
            </button>
          )}
        </div>
      </section>

      <section className="panel" aria-labelledby="runs-title">
        <h2 id="runs-title">
          {cursors.length === 0 ? "Latest runs" : `Page ${cursors.length + 1}`}
          {runs.isFetching && !runs.isLoading && <span className="refreshing">updating…</span>}
        </h2>
        {runs.error != null && <QueryError error={runs.error} what="runs" />}
        {runs.isLoading && <Loading what="runs" />}
        {runs.data && <RunTable runs={runs.data.runs} />}
        {runs.data && runs.data.runs.length === 0 && <p className="muted">No run matches these filters.</p>}
        <nav className="pager" aria-label="Pages">
          <button type="button" disabled={cursors.length === 0} onClick={() => setCursors([])}>
            ⇤ Newest
          </button>
          <button
            type="button"
            disabled={cursors.length === 0}
            onClick={() => setCursors((c) => c.slice(0, -1))}
          >
            ← Newer
          </button>
          <button
            type="button"
            disabled={!runs.data?.nextCursor || runs.isPlaceholderData}
            onClick={() => runs.data?.nextCursor && setCursors((c) => [...c, runs.data!.nextCursor!])}
          >
            Older →
          </button>
        </nav>
      </section>
    </>
  );
}

export function RunTable({ runs, showParent = true }: { runs: RunRecord[]; showParent?: boolean }) {
  const now = useNow(5_000);
  if (runs.length === 0) return null;
  return (
    <div className="table-wrap">
      <table data-testid="runs-table">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Workflow</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col" className="num">
              Duration
            </th>
            {showParent && <th scope="col">Parent</th>}
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.runId} data-run-id={r.runId}>
              <td>
                <Link to={runPath(r.runId)} className="mono">
                  {r.runId}
                </Link>
              </td>
              <td>
                {r.workflow} <span className="muted">v{r.version}</span>
              </td>
              <td>
                <StatusBadge status={r.status} />
                {r.cancelRequested && r.status !== "cancelled" && (
                  <span className="muted"> (cancel requested)</span>
                )}
              </td>
              <td title={new Date(r.createdAt).toISOString()}>
                {formatTime(r.createdAt, now)} <span className="muted">({formatAgo(r.createdAt, now)})</span>
              </td>
              <td className="num">
                {formatDuration(Math.max(0, (r.completedAt ?? now) - (r.startedAt ?? r.createdAt)))}
              </td>
              {showParent && (
                <td>
                  {r.parentRunId ? (
                    <Link to={runPath(r.parentRunId)} className="mono">
                      {r.parentRunId}
                    </Link>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
