// Alerts: what fires now and what resolved lately (rule, severity, since when, the details and how the
// webhooks took the notification), and the rules in force. The rules come from the server's config
// (its `alerts` key, docs/observability.md); the page only shows them.
import { useAlerts } from "../api/queries.js";
import type { AlertView } from "../api/types.js";
import { Loading, QueryError, useNow } from "../components/common.js";
import { describeDelivery, describeRule, describeValue, sortAlerts } from "../lib/alerts.js";
import { formatAgo, formatTime } from "../lib/format.js";
import { Link, runPath } from "../router.js";

export function AlertsPage() {
  const alerts = useAlerts();
  const now = useNow(5_000);
  const data = alerts.data;
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Alerts</h1>
          <div className="sub">
            Rules from the server's config file (its <code>alerts</code> key); refreshed every 5 seconds
            {alerts.isFetching && !alerts.isLoading && <span className="refreshing">updating…</span>}
          </div>
        </div>
      </div>
      {alerts.error != null && <QueryError error={alerts.error} what="alerts (GET /api/v1/alerts)" />}
      {alerts.isLoading && <Loading what="alerts" />}
      {data && data.rules.length === 0 && (
        <section className="panel">
          <p className="muted" style={{ margin: 0 }}>
            No alert rules are configured. Add an <code>alerts</code> key with rules and webhooks to the
            server's config file (<code>--config</code> or <code>DIRIGENT_CONFIG</code>): a run failed, a step
            retried N times, a run stuck in a state, a queue's oldest task, a failure rate. See
            docs/observability.md.
          </p>
        </section>
      )}
      {data && data.rules.length > 0 && (
        <>
          <div className="cards" data-testid="alert-cards">
            <div className="card">
              <div className="label">Firing</div>
              <div className="value">{data.active.length}</div>
            </div>
            <div className="card">
              <div className="label">Resolved lately</div>
              <div className="value">{data.recent.length}</div>
            </div>
            <div className="card">
              <div className="label">Rules</div>
              <div className="value">{data.rules.length}</div>
            </div>
          </div>
          <section className="panel" aria-labelledby="alerts-firing">
            <h2 id="alerts-firing">Firing</h2>
            {data.active.length === 0 ? (
              <p className="muted">Nothing is firing.</p>
            ) : (
              <AlertTable alerts={sortAlerts(data.active)} now={now} testId="alerts-firing-table" />
            )}
          </section>
          <section className="panel" aria-labelledby="alerts-resolved">
            <h2 id="alerts-resolved">Resolved</h2>
            {data.recent.length === 0 ? (
              <p className="muted">No alert has resolved since the server started.</p>
            ) : (
              <AlertTable alerts={data.recent} now={now} testId="alerts-resolved-table" resolved />
            )}
          </section>
          <section className="panel" aria-labelledby="alert-rules">
            <h2 id="alert-rules">Rules</h2>
            <div className="table-wrap">
              <table data-testid="alert-rules-table">
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Severity</th>
                    <th scope="col">Fires when</th>
                  </tr>
                </thead>
                <tbody>
                  {data.rules.map((rule) => (
                    <tr key={rule.name}>
                      <td>
                        <span className="mono nowrap">{rule.name}</span>
                        {rule.description && <div className="muted">{rule.description}</div>}
                      </td>
                      <td>
                        <SeverityBadge severity={rule.severity} />
                      </td>
                      <td>{describeRule(rule)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
    </>
  );
}

function SeverityBadge({ severity }: { severity: AlertView["severity"] }) {
  return <span className={`badge sev-${severity}`}>{severity}</span>;
}

function AlertTable({
  alerts,
  now,
  testId,
  resolved = false,
}: {
  alerts: AlertView[];
  now: number;
  testId: string;
  resolved?: boolean;
}) {
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">Rule</th>
            <th scope="col">Subject</th>
            <th scope="col">Since</th>
            {resolved && <th scope="col">Resolved</th>}
            <th scope="col">Details</th>
            <th scope="col">Notifications</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => {
            const value = describeValue(a);
            return (
              <tr key={`${a.id}.${a.state}`} data-alert-id={a.id} data-rule={a.rule} data-state={a.state}>
                <td>
                  <SeverityBadge severity={a.severity} />
                </td>
                <td className="mono nowrap">{a.rule}</td>
                <td className="nowrap">
                  {a.labels.runId ? (
                    <Link to={runPath(a.labels.runId)} className="mono">
                      {a.labels.runId}
                    </Link>
                  ) : (
                    <span className="mono">{a.subject}</span>
                  )}
                </td>
                <td title={new Date(a.since).toISOString()}>
                  {formatTime(a.since, now)} <span className="muted">({formatAgo(a.since, now)})</span>
                </td>
                {resolved && (
                  <td title={a.resolvedAt ? new Date(a.resolvedAt).toISOString() : undefined}>
                    {formatTime(a.resolvedAt, now)}
                  </td>
                )}
                <td>
                  <div>{a.summary}</div>
                  {value && <div className="muted">{value}</div>}
                </td>
                <td>
                  {a.deliveries.length === 0 ? (
                    <span className="muted">no webhook</span>
                  ) : (
                    <ul className="plain">
                      {a.deliveries.map((d) => (
                        <li key={`${d.eventId} ${d.webhook}`} data-delivery={d.state}>
                          <span className="muted">
                            {d.eventId.endsWith(".resolved") ? "resolved" : "firing"}
                          </span>{" "}
                          {describeDelivery(d)}
                          <div className="muted mono">{hostOf(d.webhook)}</div>
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A webhook's host: its path may carry a token, so the page does not show it whole. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "webhook";
  }
}
