// Workflows: the registered definitions and their versions; one workflow's YAML and graph (DSL
// workflows), a form that starts a run, and its latest runs.
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useMemo, useState } from "react";
import { ApiError, api } from "../api/client.js";
import { useDefinition, useRuns, useWorkflowGraph, useWorkflows } from "../api/queries.js";
import { CopyButton, Loading, Notice, QueryError } from "../components/common.js";
import { RunGraph } from "../components/RunGraph.js";
import { parseJsonInput } from "../lib/json-input.js";
import { definitionOnlyGraph } from "../lib/run-graph.js";
import { Link, navigate, runPath, workflowPath } from "../router.js";
import { RunTable } from "./RunsPage.js";

export function WorkflowsPage() {
  const workflows = useWorkflows();
  return (
    <>
      <div className="page-head">
        <h1>Workflows</h1>
      </div>
      <section className="panel" aria-label="Registered workflows">
        {workflows.error != null && <QueryError error={workflows.error} what="workflows" />}
        {workflows.isLoading && <Loading what="workflows" />}
        {workflows.data && workflows.data.workflows.length === 0 && (
          <p className="muted">No workflow is registered on this server.</p>
        )}
        {workflows.data && workflows.data.workflows.length > 0 && (
          <table data-testid="workflows-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Latest version</th>
                <th scope="col">Versions</th>
                <th scope="col">Runs</th>
              </tr>
            </thead>
            <tbody>
              {workflows.data.workflows.map((w) => (
                <tr key={w.name}>
                  <td>
                    <Link to={workflowPath(w.name)}>{w.name}</Link>
                  </td>
                  <td className="mono">{w.latest}</td>
                  <td className="mono">{w.versions.join(", ")}</td>
                  <td>
                    <Link to={`/runs?workflow=${encodeURIComponent(w.name)}`}>runs</Link> ·{" "}
                    <Link to={`${workflowPath(w.name)}#start`}>start a run</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

export function WorkflowPage({ name }: { name: string }) {
  const workflows = useWorkflows();
  const info = workflows.data?.workflows.find((w) => w.name === name);
  const [version, setVersion] = useState<string>("");
  const effective = version || info?.latest;
  const definition = useDefinition(name, version || undefined);
  const graph = useWorkflowGraph(name, effective);
  const runs = useRuns({ workflow: name, limit: 10 });
  const drawn = useMemo(
    () => (graph.data?.value ? definitionOnlyGraph(graph.data.value) : undefined),
    [graph.data],
  );
  const source = definition.data?.value?.source;
  const isDsl = Boolean(source || graph.data?.value);
  // Without the definitions routes the server cannot tell a DSL workflow from a code one.
  const known = isDsl || graph.data?.served === true || definition.data?.served === true;

  return (
    <>
      <div className="page-head">
        <div>
          <h1>{name}</h1>
          <div className="sub">
            {info ? (
              <>
                {isDsl ? "Declarative (DSL) workflow · " : known ? "Code workflow · " : ""}latest version{" "}
                <span className="mono">{info.latest}</span>
              </>
            ) : workflows.isLoading ? (
              "…"
            ) : (
              "not registered on this server"
            )}
          </div>
        </div>
        {info && info.versions.length > 1 && (
          <div className="field">
            <label htmlFor="wf-version">Version</label>
            <select id="wf-version" value={version} onChange={(e) => setVersion(e.target.value)}>
              <option value="">latest ({info.latest})</option>
              {info.versions.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      {workflows.error != null && <QueryError error={workflows.error} what="workflows" />}

      <div className="grid-2">
        <section className="panel" id="start" aria-labelledby="start-title">
          <h2 id="start-title">Start a run</h2>
          {info ? (
            <StartForm name={name} version={version || undefined} />
          ) : (
            <p className="muted">Unknown workflow.</p>
          )}
        </section>
        <section className="panel" aria-labelledby="def-title">
          <h2 id="def-title">Definition</h2>
          {definition.error != null && <QueryError error={definition.error} what="the definition" />}
          {source ? (
            <div className="json">
              <div className="json-head">
                <span className="muted">
                  version {definition.data?.value?.version} · {definition.data?.value?.format ?? "yaml"}
                </span>
                <CopyButton text={source} label="Copy YAML" />
              </div>
              {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must take focus to scroll by keyboard */}
              <pre className="yaml" tabIndex={0} data-testid="definition-source">
                {source}
              </pre>
            </div>
          ) : definition.isLoading || graph.isLoading ? null : known ? (
            <p className="muted">
              {name} is written in code, so it has no YAML definition: its run pages draw the steps as they
              ran.
            </p>
          ) : (
            <Notice kind="info">
              This server does not serve workflow definitions yet (no{" "}
              <code>GET /api/v1/definitions/:name</code> nor <code>/api/v1/workflows/:name/graph</code>), so
              no YAML or graph can be shown here. Run pages draw the steps as they ran.
            </Notice>
          )}
        </section>
      </div>

      {drawn && (
        <section className="panel" aria-labelledby="wgraph-title">
          <h2 id="wgraph-title">Graph</h2>
          <RunGraph graph={drawn} caption="The definition's steps and where they lead." />
        </section>
      )}

      <section className="panel" aria-labelledby="wruns-title">
        <h2 id="wruns-title">
          Latest runs <Link to={`/runs?workflow=${encodeURIComponent(name)}`}>(all)</Link>
        </h2>
        {runs.error != null && <QueryError error={runs.error} what="runs" />}
        {runs.data && runs.data.runs.length === 0 && <p className="muted">No runs yet.</p>}
        {runs.data && <RunTable runs={runs.data.runs} />}
      </section>
    </>
  );
}

function StartForm({ name, version }: { name: string; version?: string }) {
  const [text, setText] = useState("{}");
  const [runId, setRunId] = useState("");
  const parsed = parseJsonInput(text);
  const start = useMutation({
    mutationFn: () =>
      api.startRun(name, parsed.ok ? parsed.value : undefined, runId.trim() || undefined, version),
    onSuccess: (result) => navigate(runPath(result.runId)),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (parsed.ok) start.mutate();
  };
  const serverError = start.error instanceof ApiError ? start.error : undefined;
  return (
    <form onSubmit={submit} aria-label={`Start ${name}`}>
      <div className="field">
        <label htmlFor="start-input">Input (JSON)</label>
        <textarea
          id="start-input"
          value={text}
          onChange={(e) => setText(e.target.value)}
          aria-invalid={!parsed.ok || Boolean(serverError)}
          aria-describedby="start-input-help start-input-err"
          spellCheck={false}
        />
        <span id="start-input-help" className="muted" style={{ fontSize: 12 }}>
          Any JSON value. The server checks it against the workflow's input schema, if it has one.
        </span>
        <span id="start-input-err" className="field-error" aria-live="polite">
          {!parsed.ok ? `Not valid JSON: ${parsed.error}` : ""}
        </span>
      </div>
      <div className="field">
        <label htmlFor="start-id">Run id (optional: also the idempotency key)</label>
        <input
          id="start-id"
          type="text"
          value={runId}
          onChange={(e) => setRunId(e.target.value)}
          placeholder="generated when empty"
        />
      </div>
      {start.error != null && (
        <Notice kind="error">
          {serverError ? `${serverError.code}: ${serverError.message}` : String(start.error)}
          {serverError?.details !== undefined && <ErrorDetails details={serverError.details} />}
        </Notice>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={!parsed.ok || start.isPending}>
          {start.isPending ? "Starting…" : "Start run"}
        </button>
      </div>
    </form>
  );
}

/** Validation issues ({issues: [{path, message}]}) as a list; anything else as JSON. */
function ErrorDetails({ details }: { details: unknown }) {
  const issues = (details as { issues?: { path?: unknown; message?: unknown }[] }).issues;
  if (Array.isArray(issues) && issues.length > 0) {
    return (
      <ul style={{ margin: "6px 0 0", paddingLeft: 18 }}>
        {issues.map((issue, i) => (
          <li key={`${String(issue.path)}-${i}`}>
            {issue.path !== undefined && issue.path !== "" && <code>{String(issue.path)}</code>}
            {issue.path !== undefined && issue.path !== "" && ": "}
            {String(issue.message ?? "")}
          </li>
        ))}
      </ul>
    );
  }
  return <pre style={{ margin: "6px 0 0", whiteSpace: "pre-wrap" }}>{JSON.stringify(details, null, 2)}</pre>;
}
