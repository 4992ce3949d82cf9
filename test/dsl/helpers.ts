// Helpers of the DSL tests: a small recording HTTP service on loopback, and an engine harness with
// definitions deployed on it.
import { setTimeout as sleep } from "node:timers/promises";
import Fastify from "fastify";
import { type DeployOptions, deployDefinition } from "../../src/dsl/registry.js";
import type { EngineOptions } from "../../src/runtime/options.js";
import { type Harness, harness } from "../helpers/harness.js";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

/** What a route answers: status, body, headers; `delayMs` before answering. */
export interface Answer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface RecordingServer {
  url: string;
  requests: RecordedRequest[];
  /** Requests to `path` (without the query), in arrival order. */
  to(path: string): RecordedRequest[];
  /** Answers for `path`, used one per request; the last one repeats. Default: 200 echo. */
  script(path: string, answers: Answer[]): void;
  /** Most requests that were in progress at once, per path prefix (forEach concurrency). */
  maxInFlight(prefix: string): number;
  close(): Promise<void>;
}

/**
 * A fastify server on 127.0.0.1 that records every request and answers by script. Unscripted paths
 * answer 200 with an echo of the request: { method, path, query, headers, body }.
 */
export async function startRecordingServer(): Promise<RecordingServer> {
  const app = Fastify({ logger: false });
  const requests: RecordedRequest[] = [];
  const scripts = new Map<string, Answer[]>();
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  const closing = new AbortController();
  app.addHook("preClose", async () => closing.abort());
  app.all("/*", async (request, reply) => {
    const [path, qs = ""] = request.url.split("?");
    const rec: RecordedRequest = {
      method: request.method,
      path,
      query: Object.fromEntries(new URLSearchParams(qs)),
      headers: request.headers as Record<string, string>,
      body: request.body ?? null,
    };
    requests.push(rec);
    const prefix = `/${path.split("/")[1]}`;
    const n = (inFlight.get(prefix) ?? 0) + 1;
    inFlight.set(prefix, n);
    maxInFlight.set(prefix, Math.max(maxInFlight.get(prefix) ?? 0, n));
    try {
      const list = scripts.get(path);
      const answer: Answer = list?.length ? (list.length > 1 ? list.shift()! : list[0]) : {};
      if (answer.delayMs) await sleep(answer.delayMs, undefined, { signal: closing.signal }).catch(() => {});
      reply.code(answer.status ?? 200);
      for (const [k, v] of Object.entries(answer.headers ?? {})) reply.header(k, v);
      return answer.body !== undefined ? answer.body : rec;
    } finally {
      inFlight.set(prefix, inFlight.get(prefix)! - 1);
    }
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    url,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    script: (path, answers) => scripts.set(path, [...answers]),
    maxInFlight: (prefix) => maxInFlight.get(prefix) ?? 0,
    close: () => app.close(),
  };
}

/** A harness (real engine, SQLite file, TestClock) with the given definitions deployed. */
export async function dslHarness(
  sources: string[],
  options: Partial<EngineOptions> = {},
  deploy: DeployOptions = {},
): Promise<Harness> {
  const h = await harness([], options);
  for (const [i, source] of sources.entries()) {
    await deployDefinition(h.engine, source, { file: `def-${i}.yaml`, ...deploy });
  }
  return h;
}

/** Input naming where the recording server is. */
export const at = (server: RecordingServer, extra: Record<string, unknown> = {}) => ({
  base: server.url,
  ...extra,
});
