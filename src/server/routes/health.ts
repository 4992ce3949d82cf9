import { z } from "zod";
import type { ServerState, ZodApp } from "../state.js";

/** How long /readyz waits for the store to answer before calling it unavailable. */
const READY_CHECK_MS = 2_000;

const Ready = z.object({ ready: z.boolean(), reason: z.string().optional() });

/** /healthz: the process answers. /readyz: it is not draining and its store answers a cheap read. */
export function registerHealthRoutes(app: ZodApp, state: ServerState): void {
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["health"],
        summary: "Liveness: the process is up",
        response: { 200: z.object({ status: z.literal("ok"), node: z.string().optional() }) },
      },
    },
    async () => ({ status: "ok" as const, node: state.engine?.nodeId }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        tags: ["health"],
        summary: "Readiness: not draining for shutdown, and the store answers",
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_request, reply) => {
      if (state.draining) return reply.code(503).send({ ready: false, reason: "draining" });
      try {
        await withTimeout(state.client.list({ limit: 1 }), READY_CHECK_MS);
      } catch (error) {
        const reason = `store unavailable: ${(error as Error)?.message ?? String(error)}`;
        return reply.code(503).send({ ready: false, reason });
      }
      // Shutdown may have begun while the store was being read.
      if (state.draining) return reply.code(503).send({ ready: false, reason: "draining" });
      return { ready: true };
    },
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
