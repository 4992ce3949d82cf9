// The live feed: one EventSource on GET /api/v1/events for the whole app. Each engine event marks the
// queries it makes stale (coalesced, so a burst of events costs one refetch). When the feed cannot be
// opened (an older server, a proxy that buffers), pages fall back to polling: `useLive().live` is false
// and the hooks in queries.ts poll instead.
import { useQueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from "react";
import { API } from "./client.js";
import { LIVE_EVENT_TYPES, type LiveEvent } from "./types.js";

export type LiveState = "connecting" | "live" | "polling";

interface LiveValue {
  state: LiveState;
  live: boolean;
  /** The last few events, newest first (the header's activity indicator). */
  lastEventAt?: number;
}

const LiveContext = createContext<LiveValue>({ state: "polling", live: false });

export function useLive(): LiveValue {
  return useContext(LiveContext);
}

/** Events after which the alerts may have changed. */
const ALERTING_EVENTS = new Set(["run:finished", "run:claimed", "step:retrying", "step:failed"]);

/** After this many failed connections in a row, stop trying and poll. */
const MAX_FAILURES = 3;

export function LiveProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [state, setState] = useState<LiveState>("connecting");
  const [lastEventAt, setLastEventAt] = useState<number>();
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());

  useEffect(() => {
    if (typeof EventSource === "undefined") {
      setState("polling");
      return;
    }
    const pending = timers.current;
    /** Invalidate `key` at most once per `delayMs` (trailing). */
    const later = (id: string, delayMs: number, key: readonly unknown[]) => {
      if (pending.has(id)) return;
      pending.set(
        id,
        setTimeout(() => {
          pending.delete(id);
          void queryClient.invalidateQueries({ queryKey: key });
        }, delayMs),
      );
    };
    const onEvent = (event: LiveEvent) => {
      setLastEventAt(Date.now());
      if (event.runId) later(`run:${event.runId}`, 150, ["run", event.runId]);
      later("runs", 700, ["runs"]);
      later("children", 700, ["children"]);
      if (event.type === "run:finished" || event.type === "run:created") {
        later("stats", 3_000, ["stats"]);
        later("schedules", 2_000, ["schedules"]);
      }
      if (event.type.startsWith("step:")) later("queues", 2_000, ["queues"]);
      // A failed run or a retried step may have fired an alert, a run claimed again resolved one.
      if (ALERTING_EVENTS.has(event.type)) later("alerts", 500, ["alerts"]);
    };

    let failures = 0;
    let source: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const connect = () => {
      source = new EventSource(`${API}/events`);
      source.onopen = () => {
        failures = 0;
        setState("live");
        // Whatever happened while disconnected is not in the feed: refresh what is on screen.
        void queryClient.invalidateQueries();
      };
      source.onerror = () => {
        // EventSource reconnects by itself after a dropped stream (readyState CONNECTING); a refused
        // answer (404, wrong content type) closes it for good (CLOSED).
        if (source?.readyState === EventSource.CLOSED) {
          source.close();
          failures++;
          setState("polling");
          if (!stopped && failures < MAX_FAILURES) retry = setTimeout(connect, 2_000 * failures);
        } else {
          setState("connecting");
        }
      };
      for (const type of LIVE_EVENT_TYPES) {
        source.addEventListener(type, (message) => {
          let data: Record<string, unknown> = {};
          try {
            data = JSON.parse((message as MessageEvent<string>).data) as Record<string, unknown>;
          } catch {
            // A payload we cannot read still tells us something changed.
          }
          onEvent({ ...data, type } as LiveEvent);
        });
      }
    };
    connect();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      source?.close();
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
    };
  }, [queryClient]);

  const value = useMemo(() => ({ state, live: state === "live", lastEventAt }), [state, lastEventAt]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}
