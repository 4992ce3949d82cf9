// One run: summary and actions, its graph and timeline (live while it runs), the event history,
// input/output/error, and its child runs (and its parent).
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useMemo, useState } from "react";
import { ApiError, api } from "../api/client.js";
import { useChildren, useRunHistory, useWorkflowGraph } from "../api/queries.js";
import { isFinal, type RunHistory } from "../api/types.js";
import { Dialog, JsonBlock, Loading, Notice, QueryError, StatusBadge, useNow } from "../components/common.js";
import { EventTable } from "../components/EventTable.js";
import { RunGraph } from "../components/RunGraph.js";
import { Timeline } from "../components/Timeline.js";
import { formatAgo, formatDuration, formatRelative, formatTime } from "../lib/format.js";
import { parseJsonInput } from "../lib/json-input.js";
import { asRanGraph, definitionRunGraph } from "../lib/run-graph.js";
import { buildTimeline } from "../lib/timeline.js";
import { Link, navigate, runPath, workflowPath } from "../router.js";
import { RunTable } from "./RunsPage.js";

export function RunPage({ runId }: { runId: string }) {
  const history = useRunHistory(runId);
  if (history.error) {
    return (
      <>
        <h1 className="mono">{runId}</h1>
        {history.error instanceof ApiError && history.error.code === "RUN_NOT_FOUND" ? (
          <Notice kind="error">
            There is no run <code>{runId}</code>. <Link to="/runs">Back to the runs</Link>
          </Notice>
        ) : (
          <QueryError error={history.error} what="this run" />
        )}
      </>
    );
  }
  if (!history.data) {
    return (
      <>
        <h1 className="mono">{runId}</h1>
        <Loading what="the run" />
      </>
    );
  }
  return <RunView data={history.data} refreshing={history.isFetching} />;
}

function RunView({ data, refreshing }: { data: RunHistory; refreshing: boolean }) {
  const { run, journal, attempts, events } = data;
  const final = isFinal(run.status);
  const now = useNow(1_000, !final);
  const graphDef = useWorkflowGraph(run.workflow, run.version);
  const children = useChildren(run.runId);

  const graph = useMemo(
    () =>
      graphDef.data?.value ? definitionRunGraph(graphDef.data.value, run, journal) : asRanGraph(run, journal),
    [graphDef.data, run, journal],
  );
  const timeline = useMemo(() => buildTimeline(run, journal, attempts, now), [run, journal, attempts, now]);
  const childRuns = useMemo(() => {
    const m = new Map<number, string>();
    for (const e of journal) if (e.detail?.childRunId) m.set(e.seq, e.detail.childRunId);
    return m;
  }, [journal]);
  const failedStep = journal.find((e) => e.status === "failed" && e.kind !== "undo");
  const retries = journal.filter((e) => e.attempt > 1).length;
  const duration = Math.max(0, (run.completedAt ?? now) - (run.startedAt ?? run.createdAt));

  return (
    <>
      <div className="page-head">
        <div>
          <h1 className="mono" data-testid="run-id">
            {run.runId}
          </h1>
          <div className="sub">
            <Link to={workflowPath(run.workflow)}>{run.workflow}</Link> v{run.version} ·{" "}
            <StatusBadge status={run.status} />{" "}
            {run.cancelRequested && !final && <span>(cancel requested) </span>}
            {refreshing && <span className="refreshing">updating…</span>}
          </div>
        </div>
        <RunActions
          runId={run.runId}
          status={run.status}
          cancelRequested={run.cancelRequested}
          compensated={journal.some((e) => e.kind === "undo")}
        />
      </div>

      {run.status === "failed" && (
        <Notice kind="error">
          <strong>Failed</strong>
          {failedStep ? (
            <>
              {" "}
              at step <strong>{failedStep.name}</strong> after {failedStep.attempt} attempt
              {failedStep.attempt === 1 ? "" : "s"}
            </>
          ) : null}
          : {run.error?.message ?? "no message"}
          {run.error?.code && <span className="mono"> ({run.error.code})</span>}
        </Notice>
      )}

      <div className="grid-2">
        <section className="panel" aria-labelledby="sum-title">
          <h2 id="sum-title">Summary</h2>
          <dl className="kv">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={run.status} />
            </dd>
            <dt>Created</dt>
            <dd>
              {formatTime(run.createdAt, now, true)}{" "}
              <span className="muted">({formatAgo(run.createdAt, now)})</span>
            </dd>
            <dt>Started</dt>
            <dd>{formatTime(run.startedAt, now, true)}</dd>
            <dt>Finished</dt>
            <dd>
              {run.completedAt ? (
                formatTime(run.completedAt, now, true)
              ) : (
                <span className="muted">not yet</span>
              )}
            </dd>
            <dt>Duration</dt>
            <dd>{formatDuration(duration)}</dd>
            <dt>Steps</dt>
            <dd>
              {journal.filter((e) => !["now", "random", "uuid"].includes(e.kind)).length}
              {retries > 0 && <span className="retried"> · {retries} retried</span>}
            </dd>
            {run.wakeAt && !final && (
              <>
                <dt>Next wake-up</dt>
                <dd>
                  {formatTime(run.wakeAt, now)} ({formatRelative(run.wakeAt, now)})
                </dd>
              </>
            )}
            {run.parentRunId && (
              <>
                <dt>Parent run</dt>
                <dd>
                  <Link to={runPath(run.parentRunId)} className="mono" data-testid="parent-link">
                    {run.parentRunId}
                  </Link>
                </dd>
              </>
            )}
            {run.owner && !final && (
              <>
                <dt>Owner node</dt>
                <dd className="mono">{run.owner}</dd>
              </>
            )}
          </dl>
          <div style={{ height: 14 }} />
          <JsonBlock title="Input" value={run.input} />
        </section>
        <section className="panel" aria-label="Output or error">
          {run.error ? (
            <JsonBlock title="Error" value={run.error} error />
          ) : (
            <JsonBlock title="Output" value={run.output} empty={final ? "none" : "not finished yet"} />
          )}
        </section>
      </div>

      <section className="panel" aria-labelledby="graph-title">
        <h2 id="graph-title">Graph</h2>
        <RunGraph
          graph={graph}
          caption={
            graph.source === "definition"
              ? "The workflow's definition; each step coloured by what this run did there."
              : "The steps as they ran, in order; steps that ran at the same time side by side. Click a step for details."
          }
        />
      </section>

      <section className="panel" aria-labelledby="tl-title">
        <h2 id="tl-title">Timeline</h2>
        <Timeline data={timeline} childRuns={childRuns} />
      </section>

      <section className="panel" aria-labelledby="children-title">
        <h2 id="children-title">Child runs</h2>
        {children.error != null && <QueryError error={children.error} what="child runs" />}
        {children.data && children.data.runs.length === 0 && (
          <p className="muted">This run started no child runs.</p>
        )}
        {children.data && <RunTable runs={children.data.runs} showParent={false} />}
      </section>

      <section className="panel" aria-labelledby="events-title">
        <h2 id="events-title">Event history</h2>
        <EventTable events={events} />
      </section>
    </>
  );
}

type Action = "signal" | "cancel" | "terminate" | "retry";

function RunActions({
  runId,
  status,
  cancelRequested,
  compensated,
}: {
  runId: string;
  status: string;
  cancelRequested: boolean;
  /** Compensations ran: the run's effects were undone, so it cannot be retried. */
  compensated: boolean;
}) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState<Action>();
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string }>();
  const final = ["completed", "failed", "cancelled", "terminated"].includes(status);
  const retryable = status === "failed" && !compensated;

  const mutation = useMutation({
    mutationFn: async (a: { action: Action; signal?: string; payload?: unknown; reason?: string }) => {
      switch (a.action) {
        case "signal":
          return api.signal(runId, a.signal!, a.payload);
        case "cancel":
          return api.cancel(runId);
        case "terminate":
          return api.terminate(runId, a.reason);
        case "retry":
          return api.retry(runId);
      }
    },
    onSuccess: (result, a) => {
      setOpen(undefined);
      const text =
        a.action === "signal"
          ? `Signal "${a.signal}" sent.`
          : a.action === "cancel"
            ? "Cancellation requested: the run compensates, then ends cancelled."
            : a.action === "terminate"
              ? "Run terminated."
              : "Retrying from the failed step.";
      setMessage({ kind: "ok", text });
      void queryClient.invalidateQueries({ queryKey: ["run", runId] });
      void queryClient.invalidateQueries({ queryKey: ["runs"] });
      const newId = (result as { runId?: string } | undefined)?.runId;
      if (a.action === "retry" && newId && newId !== runId) navigate(runPath(newId));
    },
    onError: (error) => {
      setMessage({
        kind: "error",
        text: error instanceof ApiError ? `${error.code}: ${error.message}` : String(error),
      });
    },
  });

  return (
    <div>
      <div className="actions" role="toolbar" aria-label="Run actions">
        <button type="button" onClick={() => (setMessage(undefined), setOpen("signal"))} disabled={final}>
          Signal…
        </button>
        <button
          type="button"
          onClick={() => (setMessage(undefined), setOpen("cancel"))}
          disabled={final || cancelRequested}
        >
          Cancel…
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => (setMessage(undefined), setOpen("terminate"))}
          disabled={final}
        >
          Terminate…
        </button>
        <button
          type="button"
          className={retryable ? "primary" : undefined}
          onClick={() => (setMessage(undefined), mutation.mutate({ action: "retry" }))}
          disabled={!retryable || mutation.isPending}
          title={
            retryable
              ? "Run the failed step again and carry on"
              : status === "failed"
                ? "Its compensations already ran (effects undone): start a new run instead"
                : "Only a failed run can be retried"
          }
        >
          Retry from failed step
        </button>
      </div>
      {message && (
        <div aria-live="polite">
          <Notice kind={message.kind}>{message.text}</Notice>
        </div>
      )}
      <SignalDialog
        open={open === "signal"}
        pending={mutation.isPending}
        onClose={() => setOpen(undefined)}
        onSend={(signal, payload) => mutation.mutate({ action: "signal", signal, payload })}
      />
      <Dialog open={open === "cancel"} title="Cancel this run?" onClose={() => setOpen(undefined)}>
        <p>
          The run stops at its next step, runs the compensations (undo) of the steps it completed, and ends{" "}
          <strong>cancelled</strong>.
        </p>
        <div className="actions">
          <button type="button" onClick={() => setOpen(undefined)}>
            Keep running
          </button>
          <button
            type="button"
            className="danger"
            disabled={mutation.isPending}
            onClick={() => mutation.mutate({ action: "cancel" })}
          >
            Cancel run
          </button>
        </div>
      </Dialog>
      <TerminateDialog
        open={open === "terminate"}
        pending={mutation.isPending}
        onClose={() => setOpen(undefined)}
        onTerminate={(reason) => mutation.mutate({ action: "terminate", reason })}
      />
    </div>
  );
}

function SignalDialog({
  open,
  pending,
  onClose,
  onSend,
}: {
  open: boolean;
  pending: boolean;
  onClose: () => void;
  onSend: (name: string, payload: unknown) => void;
}) {
  const [name, setName] = useState("");
  const [text, setText] = useState("");
  const parsed = parseJsonInput(text);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() && parsed.ok) onSend(name.trim(), parsed.value);
  };
  return (
    <Dialog open={open} title="Send a signal" onClose={onClose}>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="sig-name">Signal name</label>
          <input
            id="sig-name"
            type="text"
            required
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoFocus
          />
        </div>
        <div className="field">
          <label htmlFor="sig-payload">Payload (JSON, optional)</label>
          <textarea
            id="sig-payload"
            value={text}
            onChange={(e) => setText(e.target.value)}
            aria-invalid={!parsed.ok}
            aria-describedby="sig-payload-err"
            placeholder='{"approved": true}'
          />
          <span id="sig-payload-err" className="field-error" aria-live="polite">
            {parsed.ok ? "" : `Not valid JSON: ${parsed.error}`}
          </span>
        </div>
        <div className="actions">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" className="primary" disabled={!name.trim() || !parsed.ok || pending}>
            Send signal
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function TerminateDialog({
  open,
  pending,
  onClose,
  onTerminate,
}: {
  open: boolean;
  pending: boolean;
  onClose: () => void;
  onTerminate: (reason?: string) => void;
}) {
  const [reason, setReason] = useState("");
  return (
    <Dialog open={open} title="Terminate this run?" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onTerminate(reason.trim() || undefined);
        }}
      >
        <p>
          The run ends <strong>terminated</strong> at once. No compensation runs; steps in flight are
          abandoned.
        </p>
        <div className="field">
          <label htmlFor="term-reason">Reason (optional)</label>
          <input
            id="term-reason"
            type="text"
            value={reason}
            maxLength={1000}
            onChange={(e) => setReason(e.target.value)}
          />
        </div>
        <div className="actions">
          <button type="button" onClick={onClose}>
            Keep running
          </button>
          <button type="submit" className="danger" disabled={pending}>
            Terminate run
          </button>
        </div>
      </form>
    </Dialog>
  );
}
