import diagnostics from "node:diagnostics_channel";

/** An outgoing HTTP request made through undici (ctx.http, or fetch in a step), as seen on its channel. */
export interface HttpCall {
  method: string;
  /** The request's Idempotency-Key header: `<runId>:<seq>` for calls made by a step. */
  idempotencyKey?: string;
  /** The request already carries a traceparent header. */
  hasTraceparent: boolean;
  /** Add a header before the request is sent (only valid in `onCreate`). */
  addHeader(name: string, value: string): void;
}

export interface HttpCallObserver {
  onCreate?(call: HttpCall): void;
  /** The response status line arrived. */
  onResponse?(call: HttpCall, statusCode: number): void;
  /** The request failed without a response (connection error, timeout, abort). */
  onError?(call: HttpCall): void;
}

interface UndiciRequest {
  method?: string;
  headers?: string | string[];
  addHeader?(name: string, value: string): unknown;
}

/**
 * Observe outgoing HTTP requests through undici's diagnostics channels (`undici:request:*`), the
 * mechanism undici offers instrumentation: both the `undici` package, which ctx.http uses, and Node's
 * global fetch publish on them. A faulty observer never breaks a request. Returns the unsubscribe
 * function.
 */
export function observeHttpCalls(observer: HttpCallObserver): () => void {
  const calls = new WeakMap<object, HttpCall>();
  const safe = (fn: () => void) => {
    try {
      fn();
    } catch {
      // Observability must not fail the request.
    }
  };
  const onCreate = (message: unknown) => {
    const request = (message as { request: UndiciRequest }).request;
    const call = toCall(request);
    calls.set(request, call);
    if (observer.onCreate) safe(() => observer.onCreate!(call));
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    const call = calls.get(request);
    if (call && observer.onResponse) safe(() => observer.onResponse!(call, response.statusCode));
  };
  const onError = (message: unknown) => {
    const call = calls.get((message as { request: object }).request);
    if (call && observer.onError) safe(() => observer.onError!(call));
  };
  diagnostics.subscribe("undici:request:create", onCreate);
  diagnostics.subscribe("undici:request:headers", onHeaders);
  diagnostics.subscribe("undici:request:error", onError);
  return () => {
    diagnostics.unsubscribe("undici:request:create", onCreate);
    diagnostics.unsubscribe("undici:request:headers", onHeaders);
    diagnostics.unsubscribe("undici:request:error", onError);
  };
}

function toCall(request: UndiciRequest): HttpCall {
  let idempotencyKey: string | undefined;
  let hasTraceparent = false;
  for (const [name, value] of headerPairs(request.headers)) {
    if (name === "idempotency-key") idempotencyKey = value;
    else if (name === "traceparent") hasTraceparent = true;
  }
  return {
    method: (request.method ?? "GET").toUpperCase(),
    idempotencyKey,
    hasTraceparent,
    addHeader(name, value) {
      request.addHeader?.(name, value);
      if (name.toLowerCase() === "traceparent") this.hasTraceparent = true;
    },
  };
}

/** undici 7 keeps headers as a flat [name, value, ...] array; undici 6 (Node 20's fetch) as raw text. */
function* headerPairs(headers: string | string[] | undefined): Generator<[string, string]> {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) yield [String(headers[i]).toLowerCase(), headers[i + 1]];
  } else if (typeof headers === "string") {
    for (const line of headers.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) yield [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    }
  }
}
