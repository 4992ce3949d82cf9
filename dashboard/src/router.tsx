// A minimal history router: the server answers index.html for every dashboard path, so plain paths
// (/runs/<id>) work on reload and can be shared. Query strings carry the filters of a page.
import { type AnchorHTMLAttributes, type MouseEvent, useCallback, useSyncExternalStore } from "react";

const listeners = new Set<() => void>();

function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  window.addEventListener("popstate", fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener("popstate", fn);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (options.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  for (const fn of listeners) fn();
  if (!options.replace) window.scrollTo(0, 0);
}

export interface Location {
  path: string;
  search: URLSearchParams;
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(href, "http://x");
  return { path: url.pathname, search: url.searchParams };
}

/** Read and replace the query string of the current page (filters, tabs). */
export function useSearchParams(): [URLSearchParams, (next: Record<string, string | undefined>) => void] {
  const { path, search } = useLocation();
  const set = useCallback(
    (next: Record<string, string | undefined>) => {
      const q = new URLSearchParams(window.location.search);
      for (const [k, v] of Object.entries(next)) {
        if (v === undefined || v === "") q.delete(k);
        else q.set(k, v);
      }
      const s = q.toString();
      navigate(s ? `${path}?${s}` : path, { replace: true });
    },
    [path],
  );
  return [search, set];
}

/** Match `pattern` ("/runs/:id") against `path`; returns the decoded params or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return undefined;
  }
  return params;
}

export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}

export const runPath = (runId: string) => `/runs/${encodeURIComponent(runId)}`;
export const workflowPath = (name: string) => `/workflows/${encodeURIComponent(name)}`;
