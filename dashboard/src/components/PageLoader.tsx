// Pages other than the runs list are separate chunks (see App.tsx): while one downloads, a short
// "Loading…" line stands in for it, and should the download fail (the server was upgraded and the old
// chunk is gone, or the network dropped) the page says so and offers a reload rather than going blank.
import { Component, type ReactNode, Suspense } from "react";
import { Loading, Notice } from "./common.js";

export function PageLoader({ children }: { children: ReactNode }) {
  return (
    <PageErrorBoundary>
      <Suspense
        fallback={
          <div className="page-loading">
            <Loading what="the page" />
          </div>
        }
      >
        {children}
      </Suspense>
    </PageErrorBoundary>
  );
}

class PageErrorBoundary extends Component<{ children: ReactNode }, { error?: unknown }> {
  state: { error?: unknown } = {};

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  render() {
    if (this.state.error === undefined) return this.props.children;
    const message = String((this.state.error as Error)?.message ?? this.state.error);
    return (
      <div className="panel">
        <h1>This page could not be shown</h1>
        <Notice kind="error">{message}</Notice>
        {/* A failed lazy import is remembered by React: only a fresh load of the app tries again. */}
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
