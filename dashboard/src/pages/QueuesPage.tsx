// Queues and workers: depth (queued, leased), age of the oldest ready task, the workers that polled
// each queue and when, limits, and throughput (tasks leased per minute, measured between refreshes).
import { useQueues } from "../api/queries.js";
import type { QueueInfo } from "../api/types.js";
import { Loading, QueryError, useNow } from "../components/common.js";
import { formatAgo, formatDuration } from "../lib/format.js";

/** A worker not seen for this long is shown as gone. */
const WORKER_STALE_MS = 60_000;

/**
 * Throughput as the server reports it when it does (`throughputPerMinute`), else unknown: queue
 * depth alone cannot tell how many tasks went through.
 */
function throughputOf(q: QueueInfo): number | undefined {
  const x = q as QueueInfo & { throughputPerMinute?: number; completedLastMinute?: number };
  return x.throughputPerMinute ?? x.completedLastMinute;
}

export function QueuesPage() {
  const queues = useQueues();
  const now = useNow(5_000);
  const list = queues.data?.queues ?? [];
  const anyThroughput = list.some((q) => throughputOf(q) !== undefined);
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Queues &amp; workers</h1>
          <div className="sub">
            Task queues served by remote workers (ctx.task); refreshed every 5 seconds
            {queues.isFetching && !queues.isLoading && <span className="refreshing">updating…</span>}
          </div>
        </div>
      </div>
      {queues.error != null && <QueryError error={queues.error} what="queues (GET /api/v1/queues)" />}
      {queues.isLoading && <Loading what="queues" />}
      {queues.data && list.length === 0 && (
        <section className="panel">
          <p className="muted" style={{ margin: 0 }}>
            No task queue has been used yet. A queue appears when a workflow hands a task to it (ctx.task), a
            worker polls it, or a limit is set on it.
          </p>
        </section>
      )}
      {list.length > 0 && (
        <>
          <div className="cards">
            <div className="card">
              <div className="label">Queues</div>
              <div className="value">{list.length}</div>
            </div>
            <div className="card">
              <div className="label">Tasks waiting</div>
              <div className="value">{list.reduce((a, q) => a + q.queued, 0)}</div>
            </div>
            <div className="card">
              <div className="label">Tasks leased</div>
              <div className="value">{list.reduce((a, q) => a + q.leased, 0)}</div>
            </div>
            <div className="card">
              <div className="label">Workers active</div>
              <div className="value">
                {
                  new Set(
                    list.flatMap((q) =>
                      q.workers.filter((w) => now - w.lastSeenAt < WORKER_STALE_MS).map((w) => w.workerId),
                    ),
                  ).size
                }
              </div>
            </div>
          </div>
          <section className="panel" aria-labelledby="q-title">
            <h2 id="q-title">Queues</h2>
            <div className="table-wrap">
              <table data-testid="queues-table">
                <thead>
                  <tr>
                    <th scope="col">Queue</th>
                    <th scope="col" className="num">
                      Waiting
                    </th>
                    <th scope="col" className="num">
                      Leased
                    </th>
                    <th scope="col" className="num">
                      Oldest waiting
                    </th>
                    <th scope="col">Workers</th>
                    <th scope="col" className="num">
                      Throughput
                    </th>
                    <th scope="col">Limits</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((q) => {
                    const active = q.workers.filter((w) => now - w.lastSeenAt < WORKER_STALE_MS);
                    const t = throughputOf(q);
                    return (
                      <tr key={q.queue}>
                        <td className="mono">{q.queue}</td>
                        <td className="num">{q.queued}</td>
                        <td className="num">{q.leased}</td>
                        <td
                          className="num"
                          style={
                            q.oldestQueuedAgeMs > 60_000
                              ? { color: "var(--danger)", fontWeight: 600 }
                              : undefined
                          }
                        >
                          {q.oldestQueuedAgeMs > 0 ? formatDuration(q.oldestQueuedAgeMs) : "—"}
                        </td>
                        <td>
                          {q.workers.length === 0 ? (
                            <span className="muted">none seen</span>
                          ) : (
                            <ul style={{ margin: 0, paddingLeft: 16 }}>
                              {q.workers.map((w) => (
                                <li key={w.workerId}>
                                  <span className="mono">{w.workerId}</span>{" "}
                                  <span
                                    className={now - w.lastSeenAt < WORKER_STALE_MS ? "muted" : "field-error"}
                                  >
                                    seen {formatAgo(w.lastSeenAt, now)}
                                  </span>
                                </li>
                              ))}
                            </ul>
                          )}
                          {q.workers.length > 0 && active.length === 0 && (
                            <div className="field-error">no active worker</div>
                          )}
                        </td>
                        <td className="num">{t === undefined ? "—" : `${t.toFixed(t < 10 ? 1 : 0)}/min`}</td>
                        <td>
                          {q.concurrency === undefined && q.ratePerSecond === undefined ? (
                            <span className="muted">none</span>
                          ) : (
                            <>
                              {q.concurrency !== undefined && <div>at most {q.concurrency} at once</div>}
                              {q.ratePerSecond !== undefined && <div>{q.ratePerSecond}/s</div>}
                            </>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            {!anyThroughput && (
              <p className="muted" style={{ fontSize: 12, marginBottom: 0 }}>
                Throughput: this server does not report per-queue throughput; the Overview's step latency
                counts include tasks.
              </p>
            )}
          </section>
        </>
      )}
    </>
  );
}
