// Schedules: cron schedules with their next fire times; pause, resume, trigger now, delete, create.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ApiError, api } from "../api/client.js";
import { useSchedules, useWorkflows } from "../api/queries.js";
import type { ScheduleRecord } from "../api/types.js";
import { Dialog, Loading, Notice, QueryError, StatusBadge, useNow } from "../components/common.js";
import { formatRelative, formatTime } from "../lib/format.js";
import { parseJsonInput } from "../lib/json-input.js";
import { Link, runPath } from "../router.js";

export function SchedulesPage() {
  const schedules = useSchedules();
  const queryClient = useQueryClient();
  const now = useNow(1_000);
  const [message, setMessage] = useState<{ kind: "ok" | "error"; node: React.ReactNode }>();
  const [deleting, setDeleting] = useState<ScheduleRecord>();

  const act = useMutation({
    mutationFn: async ({ action, id }: { action: "pause" | "resume" | "trigger" | "delete"; id: string }) => {
      if (action === "pause") return api.pauseSchedule(id);
      if (action === "resume") return api.resumeSchedule(id);
      if (action === "delete") return api.deleteSchedule(id);
      return api.triggerSchedule(id);
    },
    onSuccess: (result, { action, id }) => {
      setDeleting(undefined);
      const runId = (result as { runId?: string } | undefined)?.runId;
      setMessage({
        kind: "ok",
        node:
          action === "trigger" && runId ? (
            <>
              Triggered {id}: run <Link to={runPath(runId)}>{runId}</Link> started.
            </>
          ) : (
            `Schedule ${id} ${action === "pause" ? "paused" : action === "resume" ? "resumed" : "deleted"}.`
          ),
      });
      void queryClient.invalidateQueries({ queryKey: ["schedules"] });
      if (action === "trigger") void queryClient.invalidateQueries({ queryKey: ["runs"] });
    },
    onError: (error) =>
      setMessage({
        kind: "error",
        node: error instanceof ApiError ? `${error.code}: ${error.message}` : String(error),
      }),
  });

  const list = schedules.data?.schedules ?? [];
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Schedules</h1>
          <div className="sub">Cron schedules that start runs; times in your local time zone.</div>
        </div>
      </div>
      {message && (
        <div aria-live="polite">
          <Notice kind={message.kind}>{message.node}</Notice>
        </div>
      )}
      {schedules.error != null && (
        <QueryError error={schedules.error} what="schedules (GET /api/v1/schedules)" />
      )}
      {schedules.isLoading && <Loading what="schedules" />}
      {schedules.data && (
        <section className="panel" aria-labelledby="sch-title">
          <h2 id="sch-title">Schedules</h2>
          {list.length === 0 ? (
            <p className="muted">No schedules yet. Create one below.</p>
          ) : (
            <div className="table-wrap">
              <table data-testid="schedules-table">
                <thead>
                  <tr>
                    <th scope="col">Schedule</th>
                    <th scope="col">Workflow</th>
                    <th scope="col">Cron</th>
                    <th scope="col">State</th>
                    <th scope="col">Next fire</th>
                    <th scope="col">Last fire</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((s) => (
                    <tr key={s.scheduleId} data-schedule-id={s.scheduleId}>
                      <td className="mono">{s.scheduleId}</td>
                      <td>{s.workflow}</td>
                      <td>
                        <code>{s.cron}</code> <span className="muted">{s.timezone}</span>
                        <div className="muted" style={{ fontSize: 12 }}>
                          overlap: {s.overlap}
                        </div>
                      </td>
                      <td>
                        {s.paused ? (
                          <StatusBadge status="waiting" label="paused" />
                        ) : (
                          <StatusBadge status="running" label="active" />
                        )}
                      </td>
                      <td>
                        {s.paused || s.nextFireAt === undefined ? (
                          <span className="muted">—</span>
                        ) : (
                          <>
                            {formatTime(s.nextFireAt, now)}{" "}
                            <span className="muted">({formatRelative(s.nextFireAt, now)})</span>
                          </>
                        )}
                      </td>
                      <td>
                        {s.lastFireAt ? formatTime(s.lastFireAt, now) : <span className="muted">never</span>}
                        {s.lastRunId && (
                          <div>
                            <Link to={runPath(s.lastRunId)} className="mono" style={{ fontSize: 12 }}>
                              {s.lastRunId}
                            </Link>
                          </div>
                        )}
                      </td>
                      <td>
                        <div className="actions">
                          {s.paused ? (
                            <button
                              type="button"
                              className="small"
                              onClick={() => act.mutate({ action: "resume", id: s.scheduleId })}
                            >
                              Resume<span className="sr-only"> {s.scheduleId}</span>
                            </button>
                          ) : (
                            <button
                              type="button"
                              className="small"
                              onClick={() => act.mutate({ action: "pause", id: s.scheduleId })}
                            >
                              Pause<span className="sr-only"> {s.scheduleId}</span>
                            </button>
                          )}
                          <button
                            type="button"
                            className="small"
                            onClick={() => act.mutate({ action: "trigger", id: s.scheduleId })}
                          >
                            Trigger now<span className="sr-only"> {s.scheduleId}</span>
                          </button>
                          <button type="button" className="small danger" onClick={() => setDeleting(s)}>
                            Delete…<span className="sr-only"> {s.scheduleId}</span>
                          </button>
                        </div>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
      {schedules.data && <CreateSchedule />}
      <Dialog
        open={deleting !== undefined}
        title="Delete this schedule?"
        onClose={() => setDeleting(undefined)}
      >
        <p>
          Schedule <code>{deleting?.scheduleId}</code> stops firing. Runs it started are kept.
        </p>
        <div className="actions">
          <button type="button" onClick={() => setDeleting(undefined)}>
            Keep it
          </button>
          <button
            type="button"
            className="danger"
            disabled={act.isPending}
            onClick={() => deleting && act.mutate({ action: "delete", id: deleting.scheduleId })}
          >
            Delete schedule
          </button>
        </div>
      </Dialog>
    </>
  );
}

function CreateSchedule() {
  const workflows = useWorkflows();
  const queryClient = useQueryClient();
  const [id, setId] = useState("");
  const [workflow, setWorkflow] = useState("");
  const [cron, setCron] = useState("*/5 * * * *");
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [overlap, setOverlap] = useState<"skip" | "buffer_one" | "allow_all">("skip");
  const [input, setInput] = useState("");
  const parsed = parseJsonInput(input);
  const create = useMutation({
    mutationFn: () =>
      api.createSchedule({
        scheduleId: id.trim(),
        workflow,
        cron: cron.trim(),
        timezone,
        overlap,
        input: parsed.ok ? parsed.value : undefined,
      }),
    onSuccess: () => {
      setId("");
      void queryClient.invalidateQueries({ queryKey: ["schedules"] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (parsed.ok) create.mutate();
  };
  return (
    <details className="panel">
      <summary>
        <strong>Create a schedule</strong>
      </summary>
      <form onSubmit={submit} style={{ marginTop: 12 }}>
        <div className="filters">
          <div className="field">
            <label htmlFor="cs-id">Schedule id</label>
            <input
              id="cs-id"
              type="text"
              required
              value={id}
              onChange={(e) => setId(e.target.value)}
              pattern="[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}"
            />
          </div>
          <div className="field">
            <label htmlFor="cs-wf">Workflow</label>
            <select id="cs-wf" required value={workflow} onChange={(e) => setWorkflow(e.target.value)}>
              <option value="">Choose…</option>
              {workflows.data?.workflows.map((w) => (
                <option key={w.name} value={w.name}>
                  {w.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="cs-cron">Cron (5 or 6 fields)</label>
            <input
              id="cs-cron"
              type="text"
              required
              value={cron}
              onChange={(e) => setCron(e.target.value)}
              className="mono"
            />
          </div>
          <div className="field">
            <label htmlFor="cs-tz">Time zone</label>
            <input id="cs-tz" type="text" value={timezone} onChange={(e) => setTimezone(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="cs-overlap">If still running</label>
            <select
              id="cs-overlap"
              value={overlap}
              onChange={(e) => setOverlap(e.target.value as typeof overlap)}
            >
              <option value="skip">skip the fire</option>
              <option value="buffer_one">run once after</option>
              <option value="allow_all">run anyway</option>
            </select>
          </div>
        </div>
        <div className="field" style={{ marginTop: 10 }}>
          <label htmlFor="cs-input">Input (JSON, optional)</label>
          <textarea
            id="cs-input"
            value={input}
            onChange={(e) => setInput(e.target.value)}
            aria-invalid={!parsed.ok}
            aria-describedby="cs-input-err"
            style={{ minHeight: 70 }}
          />
          <span id="cs-input-err" className="field-error" aria-live="polite">
            {parsed.ok ? "" : `Not valid JSON: ${parsed.error}`}
          </span>
        </div>
        {create.error != null && (
          <Notice kind="error">
            {create.error instanceof ApiError
              ? `${create.error.code}: ${create.error.message}`
              : String(create.error)}
          </Notice>
        )}
        <div className="actions">
          <button
            type="submit"
            className="primary"
            disabled={!parsed.ok || create.isPending || !workflow || !id.trim()}
          >
            Create schedule
          </button>
        </div>
      </form>
    </details>
  );
}
