// The shell: a navigation sidebar, the live-feed indicator, and the page the path names.
import { lazy, useEffect } from "react";
import { useLive } from "./api/live.js";
import { useAlerts } from "./api/queries.js";
import { PageLoader } from "./components/PageLoader.js";
import { RunsPage } from "./pages/RunsPage.js";
import { Link, match, useLocation } from "./router.js";

// The runs list is in the entry chunk: it is the page people land on and come back to, and its run
// table is shared by most other pages. Every other page is a chunk of its own, fetched on first visit,
// so the graph library (run and workflow pages) and the chart library (overview) load only there.
// test/dashboard/bundle.test.ts checks that the first load stays that small.
const AlertsPage = lazy(() => import("./pages/AlertsPage.js").then((m) => ({ default: m.AlertsPage })));
const OverviewPage = lazy(() => import("./pages/OverviewPage.js").then((m) => ({ default: m.OverviewPage })));
const QueuesPage = lazy(() => import("./pages/QueuesPage.js").then((m) => ({ default: m.QueuesPage })));
const RunPage = lazy(() => import("./pages/RunPage.js").then((m) => ({ default: m.RunPage })));
const SchedulesPage = lazy(() =>
  import("./pages/SchedulesPage.js").then((m) => ({ default: m.SchedulesPage })),
);
const WorkflowPage = lazy(() =>
  import("./pages/WorkflowsPage.js").then((m) => ({ default: m.WorkflowPage })),
);
const WorkflowsPage = lazy(() =>
  import("./pages/WorkflowsPage.js").then((m) => ({ default: m.WorkflowsPage })),
);

const NAV = [
  { to: "/", label: "Overview", title: "Overview" },
  { to: "/runs", label: "Runs", title: "Runs" },
  { to: "/workflows", label: "Workflows", title: "Workflows" },
  { to: "/queues", label: "Queues & workers", title: "Queues" },
  { to: "/schedules", label: "Schedules", title: "Schedules" },
  { to: "/alerts", label: "Alerts", title: "Alerts" },
];

function route(path: string): { page: React.ReactNode; section: string; title: string } {
  let p: Record<string, string> | undefined;
  if ((p = match("/runs/:id", path)))
    return { page: <RunPage key={p.id} runId={p.id} />, section: "/runs", title: `Run ${p.id}` };
  if (match("/runs", path)) return { page: <RunsPage />, section: "/runs", title: "Runs" };
  if ((p = match("/workflows/:name", path)))
    return {
      page: <WorkflowPage key={p.name} name={p.name} />,
      section: "/workflows",
      title: `Workflow ${p.name}`,
    };
  if (match("/workflows", path))
    return { page: <WorkflowsPage />, section: "/workflows", title: "Workflows" };
  if (match("/queues", path)) return { page: <QueuesPage />, section: "/queues", title: "Queues" };
  if (match("/schedules", path))
    return { page: <SchedulesPage />, section: "/schedules", title: "Schedules" };
  if (match("/alerts", path)) return { page: <AlertsPage />, section: "/alerts", title: "Alerts" };
  if (path === "/" || path === "/overview")
    return { page: <OverviewPage />, section: "/", title: "Overview" };
  return {
    page: (
      <div className="panel">
        <h1>Not found</h1>
        <p>
          No page at <code>{path}</code>. <Link to="/runs">See the runs</Link>.
        </p>
      </div>
    ),
    section: "",
    title: "Not found",
  };
}

export function App() {
  const { path } = useLocation();
  const live = useLive();
  // Alerts firing are shown beside "Alerts" on every page.
  const firing = useAlerts().data?.active.length ?? 0;
  const { page, section, title } = route(path);
  useEffect(() => {
    document.title = `${title} · Dirigent`;
  }, [title]);
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="sidebar-inner">
          <div className="brand">
            Dirigent<small>workflow engine</small>
          </div>
          <nav aria-label="Main">
            <ul>
              {NAV.map((item) => (
                <li key={item.to}>
                  <Link to={item.to} aria-current={section === item.to ? "page" : undefined}>
                    {item.label}
                    {item.to === "/alerts" && firing > 0 && (
                      <span className="nav-count" data-testid="alerts-firing-count">
                        {firing}
                        <span className="sr-only"> firing</span>
                      </span>
                    )}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <div className="live" data-state={live.state} data-testid="live-state" role="status">
            <span className="dot" aria-hidden="true" />
            {live.state === "live"
              ? "Live updates"
              : live.state === "connecting"
                ? "Connecting…"
                : "Refreshing every few seconds"}
          </div>
          <div className="live">
            <a href="/docs" style={{ color: "#c4cad6" }}>
              API docs
            </a>
          </div>
        </div>
      </aside>
      <main id="main" tabIndex={-1}>
        {/* Keyed by path so that a page which failed to load does not keep its error on the next one. */}
        <PageLoader key={path}>{page}</PageLoader>
      </main>
    </div>
  );
}
