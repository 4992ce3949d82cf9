// react-query hooks over the API. Keys: ["runs", filter], ["run", id], ["children", id], ["workflows"],
// ["graph", name, version], ["definition", name, version], ["queues"], ["schedules"], ["stats", range],
// ["alerts"].
// The live feed (live.tsx) invalidates them; without it they poll.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { ApiError, api, type RunListParams } from "./client.js";
import { useLive } from "./live.js";
import { type DefinitionGraph, type DefinitionInfo, isFinal } from "./types.js";

/** Retry transient failures, never a 4xx (a missing route or run does not come back by retrying). */
function retry(count: number, error: unknown): boolean {
  if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false;
  return count < 2;
}

export function useRuns(params: RunListParams) {
  const { live } = useLive();
  return useQuery({
    queryKey: ["runs", params],
    queryFn: ({ signal }) => api.listRuns(params, signal),
    placeholderData: keepPreviousData,
    // Later pages are a snapshot; only the first page follows the feed or polls.
    refetchInterval: params.cursor ? false : live ? 30_000 : 5_000,
    retry,
  });
}

export function useChildren(runId: string) {
  const { live } = useLive();
  return useQuery({
    queryKey: ["children", runId],
    queryFn: ({ signal }) => api.listRuns({ parentRunId: runId, limit: 50 }, signal),
    refetchInterval: live ? 30_000 : 5_000,
    retry,
  });
}

export function useRunHistory(runId: string) {
  const { live } = useLive();
  return useQuery({
    queryKey: ["run", runId],
    queryFn: ({ signal }) => api.history(runId, signal),
    refetchInterval: (query) => {
      const status = query.state.data?.run.status;
      if (status && isFinal(status)) return live ? false : 15_000;
      return live ? 10_000 : 1_500;
    },
    retry,
  });
}

export function useWorkflows() {
  return useQuery({
    queryKey: ["workflows"],
    queryFn: ({ signal }) => api.workflows(signal),
    staleTime: 30_000,
    retry,
  });
}

/**
 * What the server says about a workflow's declarative definition: `value` is null for code workflows;
 * `served` is false when the server has no such route at all (then nothing is known either way).
 */
export interface Served<T> {
  value: T | null;
  served: boolean;
}

async function orNotFound<T>(load: () => Promise<T>): Promise<Served<T>> {
  try {
    return { value: await load(), served: true };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404)
      return { value: null, served: !error.routeMissing };
    throw error;
  }
}

/** The DSL graph of a workflow, from its graph route or else from its stored definition. */
export function useWorkflowGraph(name: string | undefined, version?: string) {
  return useQuery({
    queryKey: ["graph", name, version],
    enabled: name !== undefined,
    queryFn: async ({ signal }): Promise<Served<DefinitionGraph>> => {
      const direct = await orNotFound(() => api.workflowGraph(name!, version, signal));
      if (direct.value) return direct;
      const stored = await orNotFound(() => api.definition(name!, version, signal));
      return { value: stored.value?.graph ?? null, served: direct.served || stored.served };
    },
    staleTime: 5 * 60_000,
    retry,
  });
}

/** A DSL definition's source (null for code workflows). */
export function useDefinition(name: string, version?: string) {
  return useQuery({
    queryKey: ["definition", name, version],
    queryFn: ({ signal }): Promise<Served<DefinitionInfo>> =>
      orNotFound(() => api.definition(name, version, signal)),
    staleTime: 60_000,
    retry,
  });
}

export function useQueues() {
  return useQuery({
    queryKey: ["queues"],
    queryFn: ({ signal }) => api.queues(signal),
    refetchInterval: 5_000,
    retry,
  });
}

export function useSchedules() {
  const { live } = useLive();
  return useQuery({
    queryKey: ["schedules"],
    queryFn: ({ signal }) => api.schedules(signal),
    refetchInterval: live ? 30_000 : 10_000,
    retry,
  });
}

export function useStats(range: { windowMs: number; bucketMs: number; workflow?: string }) {
  const { live } = useLive();
  return useQuery({
    queryKey: ["stats", range],
    queryFn: ({ signal }) => {
      // Align to the bucket so successive refreshes share bucket edges and the chart does not jitter.
      const until = Math.ceil(Date.now() / range.bucketMs) * range.bucketMs;
      return api.stats(
        { since: until - range.windowMs, until, bucketMs: range.bucketMs, workflow: range.workflow },
        signal,
      );
    },
    placeholderData: keepPreviousData,
    refetchInterval: live ? 30_000 : 15_000,
    retry,
  });
}

/**
 * Alert rules, alerts firing and recently resolved. Polled whether or not the feed is live: rules on
 * time (stuck runs, queue age) fire on the server's evaluation tick, not on an engine event.
 */
export function useAlerts() {
  return useQuery({
    queryKey: ["alerts"],
    queryFn: ({ signal }) => api.alerts(signal),
    refetchInterval: 5_000,
    retry,
  });
}
