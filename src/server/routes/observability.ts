import { z } from "zod";
import type { DirigentAlerts } from "../../observability/alerts/alerts.js";
import type { DirigentMetrics } from "../../observability/metrics.js";
import { EmptyQuery, errorResponses } from "../schemas.js";
import type { ZodApp } from "../state.js";

/** GET /metrics in the Prometheus text format (outside /api/v1, where scrapers look). */
export function registerMetricsRoute(app: ZodApp, metrics: DirigentMetrics): void {
  app.get(
    "/metrics",
    { schema: { tags: ["health"], summary: "Prometheus metrics", querystring: EmptyQuery } },
    async (_request, reply) =>
      reply.header("content-type", metrics.contentType).send(await metrics.metricsText()),
  );
}

/** GET /api/v1/alerts: rules, alerts firing now, and recently resolved ones with their deliveries. */
export function registerAlertRoutes(app: ZodApp, alerts: DirigentAlerts | undefined): void {
  app.get(
    "/alerts",
    {
      schema: {
        tags: ["health"],
        summary: "Alert rules, active alerts and recent ones (empty when no rules are configured)",
        querystring: EmptyQuery,
        response: {
          200: z.object({
            rules: z.array(z.unknown()),
            active: z.array(z.unknown()),
            recent: z.array(z.unknown()),
          }),
          ...errorResponses(),
        },
      },
    },
    async () => alerts?.list() ?? { rules: [], active: [], recent: [] },
  );
}
