import { parseKeyPairsIntoRecord } from "@opentelemetry/core";
import { DirigentError } from "../core/errors.js";
import type { TracingOptions } from "./tracing.js";

type Env = Record<string, string | undefined>;

const DEFAULT_ENDPOINT = "http://localhost:4318";

/**
 * Tracing options from the standard OpenTelemetry environment variables, for entry points (cli/,
 * server/) to call with `process.env`; library code never reads the environment itself. Tracing is off
 * (`undefined`) unless an OTLP endpoint or `OTEL_TRACES_EXPORTER` is set, and always when
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
 *
 * Read: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp | console | none),
 * OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (http/protobuf |
 * http/json), OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT,
 * OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER (+ _ARG), OTEL_BSP_*.
 *
 * @example
 * const tracing = createTracing(tracingOptionsFromEnv(process.env, { serviceName: "dirigent" }));
 */
export function tracingOptionsFromEnv(env: Env, defaults: TracingOptions = {}): TracingOptions | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (exporters.includes("none")) return undefined;
  for (const name of exporters) {
    if (name !== "otlp" && name !== "console") {
      throw invalid(`OTEL_TRACES_EXPORTER "${name}" is not supported (use otlp, console or none)`);
    }
  }
  const signalEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const baseEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const wantsOtlp =
    exporters.includes("otlp") || (exporters.length === 0 && (signalEndpoint || baseEndpoint));
  const options: TracingOptions = { ...defaults };
  if (wantsOtlp) {
    const protocol = (
      env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
      env.OTEL_EXPORTER_OTLP_PROTOCOL ??
      "http/protobuf"
    )
      .trim()
      .toLowerCase();
    if (protocol !== "http/protobuf" && protocol !== "http/json") {
      throw invalid(`OTLP protocol "${protocol}" is not supported (use http/protobuf or http/json)`);
    }
    const url = signalEndpoint || `${(baseEndpoint || DEFAULT_ENDPOINT).replace(/\/+$/, "")}/v1/traces`;
    const headers = {
      ...parseKeyPairsIntoRecord(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...parseKeyPairsIntoRecord(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    };
    const timeoutMs = int(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT, "timeout");
    options.exporter = {
      url,
      protocol,
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    };
  } else if (exporters.includes("console")) {
    options.exporter = "console";
  } else {
    return undefined;
  }
  if (env.OTEL_SERVICE_NAME?.trim()) options.serviceName = env.OTEL_SERVICE_NAME.trim();
  if (env.OTEL_RESOURCE_ATTRIBUTES?.trim()) {
    options.resourceAttributes = {
      ...options.resourceAttributes,
      ...parseKeyPairsIntoRecord(env.OTEL_RESOURCE_ATTRIBUTES),
    };
  }
  const ratio = samplerRatio(env.OTEL_TRACES_SAMPLER, env.OTEL_TRACES_SAMPLER_ARG);
  if (ratio !== undefined) options.sampleRatio = ratio;
  const batch = {
    scheduleDelayMs: int(env.OTEL_BSP_SCHEDULE_DELAY, "OTEL_BSP_SCHEDULE_DELAY"),
    maxQueueSize: int(env.OTEL_BSP_MAX_QUEUE_SIZE, "OTEL_BSP_MAX_QUEUE_SIZE"),
    maxExportBatchSize: int(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
    exportTimeoutMs: int(env.OTEL_BSP_EXPORT_TIMEOUT, "OTEL_BSP_EXPORT_TIMEOUT"),
  };
  const setBatch = Object.fromEntries(Object.entries(batch).filter(([, v]) => v !== undefined));
  if (Object.keys(setBatch).length) options.batch = setBatch;
  return options;
}

/** The share of runs to trace from OTEL_TRACES_SAMPLER; decisions are per run (per trace). */
function samplerRatio(sampler: string | undefined, arg: string | undefined): number | undefined {
  const name = sampler?.trim().toLowerCase();
  if (!name) return undefined;
  switch (name) {
    case "always_on":
    case "parentbased_always_on":
      return 1;
    case "always_off":
    case "parentbased_always_off":
      return 0;
    case "traceidratio":
    case "parentbased_traceidratio": {
      if (arg === undefined || arg.trim() === "") return 1;
      const ratio = Number(arg);
      if (!(ratio >= 0 && ratio <= 1))
        throw invalid(`OTEL_TRACES_SAMPLER_ARG "${arg}" must be between 0 and 1`);
      return ratio;
    }
    default:
      throw invalid(`OTEL_TRACES_SAMPLER "${sampler}" is not supported`);
  }
}

function int(value: string | undefined, what: string): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw invalid(`${what} "${value}" must be a positive integer`);
  return n;
}

function invalid(message: string): DirigentError {
  return new DirigentError("INVALID_OPTIONS", message);
}
