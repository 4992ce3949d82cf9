// Shared scaffolding for the demo microservices of the "place an order" example.
//
// Each service is a tiny fastify app with three cross-cutting features that the
// examples, end-to-end tests and crash tests rely on:
//   - fault injection over HTTP (POST/GET /_control), so a test can make a
//     downstream call fail or hang without touching the service's code;
//   - an idempotency ledger (GET /_ledger), so a test can prove an effect was
//     applied exactly once even when the engine retried the call;
//   - a health probe (GET /healthz).
import { setTimeout as sleep } from "node:timers/promises";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";

/** What a business route handler sees: the parsed request, nothing fastify-specific. */
export interface DemoRequest {
  body: unknown;
  params: Record<string, string>;
}

/** What a business route handler returns; the scaffolding sends it. */
export interface DemoResult {
  status: number;
  body: unknown;
}

export interface DemoRoute {
  method: "GET" | "POST";
  url: string;
  /**
   * True for routes that change state (create a charge, send an email...).
   * Only these go through the idempotency ledger; reads are never recorded.
   * A mutating call counts as "applied" when its handler answers 2xx.
   */
  mutates: boolean;
  /** Must be synchronous: the effect is applied and recorded in one tick (see handleBusinessCall). */
  handler(request: DemoRequest): DemoResult;
}

export interface FaultSettings {
  /** Number of upcoming business calls that will fail. */
  failNext: number;
  /** Fail every business call until reset. */
  failAlways: boolean;
  /** HTTP status used for injected failures. */
  failStatus: number;
  /** Delay added to every business response, in milliseconds. */
  delayMs: number;
}

export interface LedgerEntry {
  received: number;
  applied: number;
}

export interface LedgerSnapshot {
  calls: number;
  effects: number;
  byKey: Record<string, LedgerEntry>;
}

interface StoredCall extends LedgerEntry {
  /** Route the key was first applied on, to reject reuse of a key for a different operation. */
  route?: string;
  response?: DemoResult;
}

export interface DemoServiceState {
  faults: FaultSettings;
  /** Mutating business calls received, including failed and replayed ones. */
  calls: number;
  /** Effects actually applied. */
  effects: number;
  keys: Map<string, StoredCall>;
}

export interface DemoService {
  name: string;
  app: FastifyInstance;
  state: DemoServiceState;
  ledger(): LedgerSnapshot;
  /** Starts listening and resolves with the base URL, e.g. "http://127.0.0.1:41234". */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

export const DEFAULT_FAIL_STATUS = 503;

export function defaultFaults(): FaultSettings {
  return { failNext: 0, failAlways: false, failStatus: DEFAULT_FAIL_STATUS, delayMs: 0 };
}

/** Body of a 400 answer; shared so every service reports validation errors the same way. */
export function invalidBody(message: string): DemoResult {
  return { status: 400, body: { code: "INVALID_BODY", message } };
}

/** Returns the body as a plain object, or undefined if it is not one. */
export function asObject(body: unknown): Record<string, unknown> | undefined {
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

export function createDemoService(name: string, routes: DemoRoute[]): DemoService {
  const app = Fastify({ logger: false });
  const state: DemoServiceState = { faults: defaultFaults(), calls: 0, effects: 0, keys: new Map() };
  // Aborted on close so that a long injected delay never holds the server open.
  const closing = new AbortController();
  let closed: Promise<void> | undefined;

  // Report malformed or missing JSON bodies in the same shape as our own validation errors.
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 400) {
      return reply.code(400).send({ code: "INVALID_BODY", message: error.message });
    }
    return reply.code(status).send({ code: error.code ?? "INTERNAL", message: error.message });
  });

  app.addHook("preClose", async () => {
    closing.abort();
  });

  app.get("/healthz", async () => ({ ok: true }));

  app.get("/_control", async () => state.faults);

  app.post("/_control", async (request, reply) => {
    const result = parseControl(request.body);
    if (typeof result === "string") {
      return reply.code(400).send({ code: "INVALID_BODY", message: result });
    }
    // reset is applied first so that `{ reset: true, failNext: 1 }` means "start clean, then fail once".
    const base = result.reset ? defaultFaults() : state.faults;
    state.faults = { ...base, ...result.changes };
    return state.faults;
  });

  const ledger = (): LedgerSnapshot => {
    const byKey: Record<string, LedgerEntry> = {};
    for (const [key, entry] of state.keys) {
      byKey[key] = { received: entry.received, applied: entry.applied };
    }
    return { calls: state.calls, effects: state.effects, byKey };
  };

  app.get("/_ledger", async () => ledger());

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      handler: (request, reply) => handleBusinessCall(route, request, reply),
    });
  }

  async function handleBusinessCall(route: DemoRoute, request: FastifyRequest, reply: FastifyReply) {
    const result = decide(route, request);
    // The delay comes after the effect is applied: a caller that times out has still
    // caused the effect, which is exactly the situation idempotency keys exist for.
    if (state.faults.delayMs > 0) {
      await sleep(state.faults.delayMs, undefined, { signal: closing.signal }).catch(() => undefined);
    }
    return reply.code(result.status).send(result.body);
  }

  // Synchronous on purpose: checking the ledger, applying the effect and storing the
  // response happen without yielding, so concurrent duplicates cannot both apply.
  function decide(route: DemoRoute, request: FastifyRequest): DemoResult {
    const key = route.mutates ? idempotencyKey(request) : undefined;
    let entry: StoredCall | undefined;
    if (route.mutates) {
      state.calls++;
    }
    if (key !== undefined) {
      entry = state.keys.get(key) ?? { received: 0, applied: 0 };
      state.keys.set(key, entry);
      entry.received++;
    }

    if (consumeInjectedFailure()) {
      return { status: state.faults.failStatus, body: { error: "injected failure" } };
    }

    const routeId = `${route.method} ${route.url}`;
    if (entry?.response) {
      if (entry.route !== routeId) {
        return {
          status: 422,
          body: { code: "IDEMPOTENCY_KEY_REUSED", message: `key was already used for ${entry.route}` },
        };
      }
      return entry.response;
    }

    const result = route.handler({
      body: request.body,
      params: (request.params ?? {}) as Record<string, string>,
    });
    const applied = route.mutates && result.status >= 200 && result.status < 300;
    if (applied) {
      state.effects++;
    }
    if (applied && entry) {
      entry.applied++;
      entry.route = routeId;
      entry.response = result;
    }
    return result;
  }

  function consumeInjectedFailure(): boolean {
    if (state.faults.failAlways) {
      return true;
    }
    if (state.faults.failNext > 0) {
      state.faults.failNext--;
      return true;
    }
    return false;
  }

  return {
    name,
    app,
    state,
    ledger,
    async listen(port = 0, host = "127.0.0.1") {
      return app.listen({ port, host });
    },
    close() {
      closed ??= app.close();
      return closed;
    },
  };
}

function idempotencyKey(request: FastifyRequest): string | undefined {
  const raw = request.headers["idempotency-key"];
  const key = Array.isArray(raw) ? raw[0] : raw;
  return key ? key : undefined;
}

interface ControlRequest {
  reset: boolean;
  changes: Partial<FaultSettings>;
}

/** Validates a POST /_control body; returns an error message when it is invalid. */
function parseControl(body: unknown): ControlRequest | string {
  const input = asObject(body ?? {});
  if (!input) {
    return "body must be a JSON object";
  }
  const changes: Partial<FaultSettings> = {};
  if (input.failNext !== undefined) {
    if (!Number.isInteger(input.failNext) || (input.failNext as number) < 0) {
      return "failNext must be a non-negative integer";
    }
    changes.failNext = input.failNext as number;
  }
  if (input.failAlways !== undefined) {
    if (typeof input.failAlways !== "boolean") {
      return "failAlways must be a boolean";
    }
    changes.failAlways = input.failAlways;
  }
  if (input.failStatus !== undefined) {
    const status = input.failStatus;
    if (!Number.isInteger(status) || (status as number) < 400 || (status as number) > 599) {
      return "failStatus must be an integer between 400 and 599";
    }
    changes.failStatus = status as number;
  }
  if (input.delayMs !== undefined) {
    if (typeof input.delayMs !== "number" || !Number.isFinite(input.delayMs) || input.delayMs < 0) {
      return "delayMs must be a non-negative number";
    }
    changes.delayMs = input.delayMs;
  }
  if (input.reset !== undefined && input.reset !== true) {
    return "reset must be true when present";
  }
  return { reset: input.reset === true, changes };
}
