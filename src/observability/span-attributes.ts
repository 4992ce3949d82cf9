// The names and attribute keys of the spans Dirigent writes, shared by both record writers.
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { ExportConfig } from "./export-config.js";
import { SPAN_TYPE } from "./span-records.js";

/** Attribute names on Dirigent's spans. */
export const ATTR = {
  runId: "dirigent.run_id",
  workflow: "dirigent.workflow",
  step: "dirigent.step",
  seq: "dirigent.seq",
  attempt: "dirigent.attempt",
  fence: "dirigent.fence",
  replay: "dirigent.replay",
  takeover: "dirigent.takeover",
  node: "dirigent.node",
  status: "dirigent.run.status",
  retryDelayMs: "dirigent.retry.delay_ms",
  queue: "dirigent.task.queue",
  errorCode: "dirigent.error.code",
  ended: "dirigent.span.ended_by",
} as const;

/** A span's name: "run <workflow>", "execute <workflow>", "step <step>", "task <step>". */
export function spanName(type: number, workflow: string, label: string): string {
  switch (type) {
    case SPAN_TYPE.step:
      return `step ${label}`;
    case SPAN_TYPE.execute:
      return `execute ${workflow}`;
    case SPAN_TYPE.task:
      return `task ${label}`;
    default:
      return `run ${workflow}`;
  }
}

/** The instrumentation scope of Dirigent's spans. */
export const SCOPE_NAME = "dirigent";

/** The resource's attributes, in the order written: the configured ones, then service name and version. */
export function resourceAttributes(config: ExportConfig): Record<string, string> {
  return {
    ...config.resourceAttributes,
    [ATTR_SERVICE_NAME]: config.serviceName ?? "dirigent",
    ...(config.serviceVersion ? { [ATTR_SERVICE_VERSION]: config.serviceVersion } : {}),
  };
}
