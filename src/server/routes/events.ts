import { z } from "zod";
import { DirigentError } from "../../core/errors.js";
import type { EngineEventMap } from "../../runtime/events.js";
import { EventsQuery, errorResponses } from "../schemas.js";
import { requireEngine, type ServerState, type ZodApp } from "../state.js";

/** The engine events the live feed carries (step:started and engine:error stay inside). */
export const STREAMED_EVENTS = [
  "run:created",
  "run:claimed",
  "run:suspended",
  "run:finished",
  "step:completed",
  "step:retrying",
  "step:failed",
] as const satisfies readonly (keyof EngineEventMap)[];

/** A comment line this often keeps proxies and browsers from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;
/**
 * A client that reads slower than events come is cut off once this much is queued for it, rather than
 * letting the server's memory grow; EventSource reconnects by itself.
 */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** GET /events: the engine's lifecycle events as Server-Sent Events. */
export function registerEventRoutes(app: ZodApp, state: ServerState): void {
  app.get(
    "/events",
    {
      exposeHeadRoute: false,
      schema: {
        tags: ["events"],
        summary: "Live feed of run and step events (Server-Sent Events)",
        description:
          `Each engine event is sent as \`event: <type>\` (${STREAMED_EVENTS.join(", ")}) and ` +
          "`data: <JSON payload>` (runId, workflow, seq, name, status, error... as the event has them). " +
          `A comment line comes every ${KEEP_ALIVE_MS / 1000} s. Only events of this server's engine ` +
          "after the stream opened are sent (no replay: read /runs for the state). runId keeps only that " +
          "run's events. The stream ends when the server shuts down, and a client that falls more than " +
          `${MAX_QUEUED_BYTES / 1_048_576} MiB behind is disconnected (EventSource reconnects).`,
        querystring: EventsQuery,
        response: {
          200: {
            description: "an event stream that stays open",
            content: { "text/event-stream": { schema: z.string() } },
          },
          ...errorResponses(503),
        },
      },
    },
    async (request, reply) => {
      const engine = requireEngine(state, "the event feed");
      if (state.draining) throw new DirigentError("ENGINE_STOPPED", "the server is shutting down");
      const only = request.query.runId;
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      // Listeners are in place before the first byte: a client that saw the stream open misses nothing.
      const unsubscribe = STREAMED_EVENTS.map((type) =>
        engine.events.on(type, (payload: { runId: string }) => {
          if (only !== undefined && payload.runId !== only) return;
          send(`event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`);
        }),
      );
      const keepAlive = setInterval(() => send(": keep-alive\n\n"), KEEP_ALIVE_MS);
      keepAlive.unref();
      let open = true;
      const end = () => {
        if (!open) return;
        open = false;
        clearInterval(keepAlive);
        for (const off of unsubscribe) off();
        state.drain.signal.removeEventListener("abort", onDrain);
      };
      const onDrain = () => {
        end();
        res.end();
      };
      function send(chunk: string): void {
        if (!open) return;
        if (res.writableLength > MAX_QUEUED_BYTES) {
          end();
          res.destroy();
          return;
        }
        res.write(chunk);
      }
      res.on("close", end);
      state.drain.signal.addEventListener("abort", onDrain, { once: true });
      res.write(": connected\n\n");
    },
  );
}
