// A small typed fetch client of the public HTTP API (/api/v1). Every error becomes an ApiError that
// carries the server's stable code, so pages can say what went wrong (and tell "route missing" apart).
import type {
  AlertsView,
  DefinitionGraph,
  DefinitionInfo,
  QueueInfo,
  RunHistory,
  RunPage,
  RunRecord,
  RunStats,
  RunStatus,
  ScheduleRecord,
  ScheduleSpec,
  StartResult,
  WorkflowInfo,
} from "./types.js";

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The server has no such route (an older server, or a feature not built yet). */
  get routeMissing(): boolean {
    return this.code === "ROUTE_NOT_FOUND" || (this.status === 404 && this.code === "HTTP_404");
  }
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API}${path}`, {
      method,
      signal,
      headers:
        body === undefined
          ? { accept: "application/json" }
          : { "content-type": "application/json", accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "NETWORK", `cannot reach the server: ${(error as Error).message}`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const e = (json ?? {}) as { code?: string; message?: string; details?: unknown };
    throw new ApiError(
      response.status,
      e.code ?? `HTTP_${response.status}`,
      e.message ?? (text.slice(0, 200) || response.statusText),
      e.details,
    );
  }
  if (json === undefined && text !== "") {
    throw new ApiError(response.status, "BAD_RESPONSE", `${method} ${path} did not answer JSON`);
  }
  return json as T;
}

const enc = encodeURIComponent;

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  }
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

export interface RunListParams {
  status?: RunStatus[];
  workflow?: string;
  createdAfter?: number;
  createdBefore?: number;
  q?: string;
  parentRunId?: string;
  limit?: number;
  cursor?: string;
}

export const api = {
  listRuns(p: RunListParams, signal?: AbortSignal): Promise<RunPage> {
    return request(
      "GET",
      `/runs${query({
        status: p.status?.length ? p.status.join(",") : undefined,
        workflow: p.workflow,
        createdAfter: p.createdAfter,
        createdBefore: p.createdBefore,
        q: p.q,
        parentRunId: p.parentRunId,
        limit: p.limit ?? 50,
        cursor: p.cursor,
      })}`,
      undefined,
      signal,
    );
  },
  getRun: (id: string, signal?: AbortSignal) =>
    request<RunRecord>("GET", `/runs/${enc(id)}`, undefined, signal),
  history: (id: string, signal?: AbortSignal) =>
    request<RunHistory>("GET", `/runs/${enc(id)}/history`, undefined, signal),
  signal: (id: string, name: string, payload: unknown) =>
    request<{ signalId: number }>("POST", `/runs/${enc(id)}/signals/${enc(name)}`, { payload }),
  cancel: (id: string) => request<{ runId: string }>("POST", `/runs/${enc(id)}/cancel`, {}),
  terminate: (id: string, reason?: string) =>
    request<{ runId: string }>("POST", `/runs/${enc(id)}/terminate`, reason ? { reason } : {}),
  retry: (id: string) => request<{ runId: string }>("POST", `/runs/${enc(id)}/retry`, {}),

  workflows: (signal?: AbortSignal) =>
    request<{ workflows: WorkflowInfo[] }>("GET", "/workflows", undefined, signal),
  startRun: (name: string, input: unknown, runId?: string, version?: string) =>
    request<StartResult>("POST", `/workflows/${enc(name)}/runs`, {
      input,
      ...(runId ? { runId } : {}),
      ...(version ? { version } : {}),
    }),
  workflowGraph: (name: string, version?: string, signal?: AbortSignal) =>
    request<DefinitionGraph>("GET", `/workflows/${enc(name)}/graph${query({ version })}`, undefined, signal),
  definition: (name: string, version?: string, signal?: AbortSignal) =>
    request<DefinitionInfo>("GET", `/definitions/${enc(name)}${query({ version })}`, undefined, signal),

  queues: (signal?: AbortSignal) => request<{ queues: QueueInfo[] }>("GET", "/queues", undefined, signal),

  schedules: (signal?: AbortSignal) =>
    request<{ schedules: ScheduleRecord[] }>("GET", "/schedules", undefined, signal),
  createSchedule: (spec: ScheduleSpec) => request<ScheduleRecord>("POST", "/schedules", spec),
  pauseSchedule: (id: string) => request<unknown>("POST", `/schedules/${enc(id)}/pause`, {}),
  resumeSchedule: (id: string) => request<unknown>("POST", `/schedules/${enc(id)}/resume`, {}),
  triggerSchedule: (id: string) => request<{ runId: string }>("POST", `/schedules/${enc(id)}/trigger`, {}),
  deleteSchedule: (id: string) => request<unknown>("DELETE", `/schedules/${enc(id)}`),

  alerts: (signal?: AbortSignal) => request<AlertsView>("GET", "/alerts", undefined, signal),

  stats: (p: { since: number; until: number; bucketMs: number; workflow?: string }, signal?: AbortSignal) =>
    request<RunStats>("GET", `/stats${query(p)}`, undefined, signal),
};
