import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { DirigentClient } from "../client/client.js";
import { DirigentError } from "../core/errors.js";
import type { Engine } from "../runtime/engine.js";

/** The fastify instance the route files see: request and reply types come from the zod schemas. */
export type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What the routes share: the client they call, and whether the server is draining for shutdown. */
export interface ServerState {
  readonly client: DirigentClient;
  readonly engine?: Engine;
  readonly maxBodyBytes: number;
  draining: boolean;
  /** Aborted when draining starts: long-polls answer at once instead of holding up the shutdown. */
  readonly drain: AbortController;
}

/**
 * The engine in this process, for the routes that need it beyond the client API (the worker protocol,
 * the live event feed). A server built over a remote client has none: SERVER_UNAVAILABLE.
 */
export function requireEngine(state: ServerState, what: string): Engine {
  if (!state.engine) {
    throw new DirigentError(
      "SERVER_UNAVAILABLE",
      `${what} needs an engine in the server process, and this server has none`,
    );
  }
  return state.engine;
}
