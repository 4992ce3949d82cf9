import { errorResponses, RunStatsSchema, StatsQuery } from "../schemas.js";
import type { ServerState, ZodApp } from "../state.js";

/** GET /stats: run counts per time bucket, failure rate and step latency, for the dashboard's charts. */
export function registerStatsRoutes(app: ZodApp, state: ServerState): void {
  const { client } = state;

  app.get(
    "/stats",
    {
      schema: {
        tags: ["stats"],
        summary: "Runs started and ended per time bucket, failure rate, step latency percentiles",
        description:
          "The window is [since, until); by default the last hour in one-minute buckets. Buckets are at " +
          "least 1,000 ms wide and a window holds at most 1,000 of them (400 INVALID_ARGUMENT otherwise).",
        querystring: StatsQuery,
        response: { 200: RunStatsSchema, ...errorResponses() },
      },
    },
    async (request) => {
      const { since, until, bucketMs, workflow } = request.query;
      return client.runStats({ since, until, bucketMs, workflow });
    },
  );
}
