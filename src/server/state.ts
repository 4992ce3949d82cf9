import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { DirigentClient } from "../client/client.js";
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
