import { Agent, request } from "undici";
import { DirigentError, type ErrorCode } from "../core/errors.js";
import {
  type DefinitionRecord,
  isTerminalStatus,
  type QueueInfo,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStats,
  type ScheduleRecord,
} from "../core/types.js";
import type { DefinitionGraph } from "../dsl/graph.js";
import type {
  DirigentClient,
  ResultOptions,
  RunHistory,
  RunStatsQuery,
  ScheduleSpec,
  StartOptions,
  StartResult,
  WorkflowInfo,
} from "./client.js";

export interface HttpClientOptions {
  /** Base address of a Dirigent server, e.g. http://127.0.0.1:7070. */
  address: string;
  /** How long one request may take before it fails with SERVER_UNAVAILABLE (result() polls beyond it). */
  timeoutMs?: number;
}

/** Longest wait asked of the server in one result() request (the server caps it at 60 s too). */
const MAX_POLL_MS = 60_000;
const DEFAULT_RESULT_TIMEOUT_MS = 60_000;
const EARLY_ANSWER_BACKOFF_MS = 500;

/**
 * The client API over HTTP: the same DirigentClient as LocalClient, talking to `dirigent server`.
 * Errors the server reports come back as DirigentErrors with the server's code, message and details;
 * a server that cannot be reached gives SERVER_UNAVAILABLE. Call `close()` when done.
 *
 * @example
 * const client = new HttpClient({ address: "http://127.0.0.1:7070" });
 * const { runId } = await client.start("place-order", { amount: 42 });
 * const run = await client.result(runId, { timeoutMs: 120_000 });
 * await client.close();
 */
export class HttpClient implements DirigentClient {
  readonly address: string;
  private readonly timeoutMs: number;
  private readonly agent: Agent;

  constructor(options: HttpClientOptions) {
    let url: URL;
    try {
      url = new URL(options.address);
    } catch {
      throw new DirigentError("INVALID_ARGUMENT", `server address "${options.address}" is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new DirigentError("INVALID_ARGUMENT", `server address "${options.address}" must be http(s)://`);
    }
    this.address = url.origin + url.pathname.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });
  }

  async start(workflow: string, input?: unknown, options: StartOptions = {}): Promise<StartResult> {
    const body = { input, runId: options.runId, onConflict: options.onConflict, version: options.version };
    return this.call("POST", `/workflows/${enc(workflow)}/runs`, { body });
  }

  /**
   * Start run `runId` of `workflow` if no run has that id, then deliver a signal to it, in one request.
   */
  async signalWithStart(
    workflow: string,
    args: { runId: string; signal: string; payload?: unknown; input?: unknown; version?: string },
  ): Promise<StartResult & { signalId: number }> {
    return this.call("POST", `/workflows/${enc(workflow)}/signal-with-start`, { body: args });
  }

  describe(runId: string): Promise<RunRecord> {
    return this.call("GET", `/runs/${enc(runId)}`);
  }

  list(filter: RunFilter = {}): Promise<RunPage> {
    const query = new URLSearchParams();
    if (filter.status?.length) query.set("status", filter.status.join(","));
    if (filter.workflow !== undefined) query.set("workflow", filter.workflow);
    if (filter.createdAfter !== undefined) query.set("createdAfter", String(filter.createdAfter));
    if (filter.createdBefore !== undefined) query.set("createdBefore", String(filter.createdBefore));
    if (filter.idContains) query.set("q", filter.idContains);
    if (filter.parentRunId !== undefined) query.set("parentRunId", filter.parentRunId);
    if (filter.limit !== undefined) query.set("limit", String(filter.limit));
    if (filter.cursor !== undefined) query.set("cursor", filter.cursor);
    const qs = query.toString();
    return this.call("GET", `/runs${qs ? `?${qs}` : ""}`);
  }

  history(runId: string): Promise<RunHistory> {
    return this.call("GET", `/runs/${enc(runId)}/history`);
  }

  /**
   * Long-poll the server until the run is final; RESULT_TIMEOUT past `timeoutMs` (default 60 s).
   * Aborting `signal` rejects with its reason at once and closes the poll's connection, which ends the
   * server's wait too.
   */
  async result(runId: string, options: ResultOptions = {}): Promise<RunRecord> {
    const { signal } = options;
    signal?.throwIfAborted();
    const timeoutMs = options.timeoutMs ?? DEFAULT_RESULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waitMs = Math.max(0, Math.min(deadline - Date.now(), MAX_POLL_MS));
      const polledAt = Date.now();
      const run: RunRecord = await this.call("GET", `/runs/${enc(runId)}/result?timeoutMs=${waitMs}`, {
        timeoutMs: waitMs + this.timeoutMs,
        signal,
      });
      if (isTerminalStatus(run.status)) return run;
      if (Date.now() >= deadline) {
        throw new DirigentError("RESULT_TIMEOUT", `run "${runId}" did not finish within ${timeoutMs} ms`);
      }
      // A server that answered before the wait was up (it is draining for shutdown) is not asked again
      // at once: back off a little instead of spinning.
      if (Date.now() - polledAt < waitMs) {
        await sleep(Math.min(EARLY_ANSWER_BACKOFF_MS, deadline - Date.now()), signal);
      }
    }
  }

  signal(runId: string, name: string, payload?: unknown): Promise<{ signalId: number }> {
    return this.call("POST", `/runs/${enc(runId)}/signals/${enc(name)}`, { body: { payload } });
  }

  async cancel(runId: string): Promise<void> {
    await this.call("POST", `/runs/${enc(runId)}/cancel`);
  }

  async terminate(runId: string, reason?: string): Promise<void> {
    await this.call("POST", `/runs/${enc(runId)}/terminate`, { body: { reason } });
  }

  /** Retry a failed run from its failed step. */
  async retry(runId: string): Promise<{ runId: string }> {
    return this.call("POST", `/runs/${enc(runId)}/retry`);
  }

  async workflows(): Promise<WorkflowInfo[]> {
    const { workflows } = await this.call<{ workflows: WorkflowInfo[] }>("GET", "/workflows");
    return workflows;
  }

  listQueues(): Promise<QueueInfo[]> {
    return this.call<{ queues: QueueInfo[] }>("GET", "/queues").then((r) => r.queues);
  }

  describeQueue(queue: string): Promise<QueueInfo> {
    return this.call("GET", `/queues/${enc(queue)}`);
  }

  async setQueueLimits(
    queue: string,
    limits: { concurrency?: number | null; ratePerSecond?: number | null },
  ) {
    await this.call("PUT", `/queues/${enc(queue)}/limits`, { body: limits });
  }

  deployDefinition(
    source: string,
    options: { file?: string; format?: "yaml" | "json" } = {},
  ): Promise<{ name: string; version: number; created: boolean; graph: DefinitionGraph }> {
    return this.call("POST", "/definitions", { body: { source, ...options } });
  }

  listDefinitions(): Promise<Omit<DefinitionRecord, "source">[]> {
    return this.call<{ definitions: Omit<DefinitionRecord, "source">[] }>("GET", "/definitions").then(
      (r) => r.definitions,
    );
  }

  getDefinition(name: string, version?: number): Promise<DefinitionRecord & { graph: DefinitionGraph }> {
    const qs = version === undefined ? "" : `?version=${version}`;
    return this.call("GET", `/definitions/${enc(name)}${qs}`);
  }

  createSchedule(spec: ScheduleSpec): Promise<ScheduleRecord> {
    return this.call("POST", "/schedules", { body: spec });
  }

  listSchedules(): Promise<ScheduleRecord[]> {
    return this.call<{ schedules: ScheduleRecord[] }>("GET", "/schedules").then((r) => r.schedules);
  }

  getSchedule(scheduleId: string): Promise<ScheduleRecord> {
    return this.call("GET", `/schedules/${enc(scheduleId)}`);
  }

  async pauseSchedule(scheduleId: string): Promise<void> {
    await this.call("POST", `/schedules/${enc(scheduleId)}/pause`);
  }

  async resumeSchedule(scheduleId: string): Promise<void> {
    await this.call("POST", `/schedules/${enc(scheduleId)}/resume`);
  }

  async deleteSchedule(scheduleId: string): Promise<void> {
    await this.call("DELETE", `/schedules/${enc(scheduleId)}`);
  }

  triggerSchedule(scheduleId: string): Promise<{ runId: string }> {
    return this.call("POST", `/schedules/${enc(scheduleId)}/trigger`);
  }

  runStats(query: RunStatsQuery = {}): Promise<RunStats> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set("since", String(query.since));
    if (query.until !== undefined) params.set("until", String(query.until));
    if (query.bucketMs !== undefined) params.set("bucketMs", String(query.bucketMs));
    if (query.workflow !== undefined) params.set("workflow", query.workflow);
    const qs = params.toString();
    return this.call("GET", `/stats${qs ? `?${qs}` : ""}`);
  }

  /** Close the connections to the server. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call<T>(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    options: { body?: unknown; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const url = `${this.address}/api/v1${path}`;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const hasBody = options.body !== undefined;
    let status: number;
    let text: string;
    let contentType: string;
    try {
      const response = await request(url, {
        method,
        dispatcher: this.agent,
        headers: hasBody ? { "content-type": "application/json" } : {},
        body: hasBody ? JSON.stringify(options.body) : undefined,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: options.signal,
      });
      status = response.statusCode;
      contentType = String(response.headers["content-type"] ?? "");
      text = await response.body.text();
    } catch (error) {
      // The caller gave up: its reason, not a network failure.
      if (options.signal?.aborted) throw options.signal.reason;
      throw new DirigentError(
        "SERVER_UNAVAILABLE",
        `cannot reach the Dirigent server at ${this.address}: ${describeNetworkError(error)}`,
        { address: this.address },
      );
    }
    const json = contentType.includes("json") ? tryParse(text) : undefined;
    if (status >= 200 && status < 300) {
      if (json === undefined) {
        throw new DirigentError(
          "INTERNAL",
          `unexpected answer from ${method} ${path}: ${status} ${contentType || "without content type"}`,
        );
      }
      return json.value as T;
    }
    const body = json?.value as { code?: unknown; message?: unknown; details?: unknown } | undefined;
    if (body && typeof body.code === "string" && typeof body.message === "string") {
      throw new DirigentError(body.code as ErrorCode, body.message, body.details);
    }
    // Not one of ours: a proxy, or something else listening on that port.
    const code = status === 502 || status === 503 || status === 504 ? "SERVER_UNAVAILABLE" : "INTERNAL";
    throw new DirigentError(
      code as ErrorCode,
      `unexpected answer from ${method} ${path}: ${status} ${text.slice(0, 200)}`,
      { status },
    );
  }
}

/** Wait `ms`, or reject with `signal`'s reason as soon as it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function tryParse(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

function describeNetworkError(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  const message = e?.message ?? String(error);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}
