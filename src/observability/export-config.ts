// How spans are exported: the options shared by the engine's thread, the tracing worker and the two
// record writers (OtlpRecordExporter, SpanWriter). Types only.
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { SpanColumns, SpanRecord } from "./span-records.js";

/** Where spans go: an OTLP/HTTP endpoint (the full URL, e.g. `http://collector:4318/v1/traces`). */
export interface OtlpExporterOptions {
  url: string;
  /** OTLP encoding: "http/protobuf" (the OTLP default) or "http/json". */
  protocol?: "http/protobuf" | "http/json";
  headers?: Record<string, string>;
  /** Per export request (default 10 s). */
  timeoutMs?: number;
}

export interface BatchOptions {
  scheduleDelayMs?: number;
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  exportTimeoutMs?: number;
}

/** What the SDK side needs; plain data except a SpanExporter object (which keeps it in-thread). */
export interface ExportConfig {
  serviceName?: string;
  serviceVersion?: string;
  resourceAttributes?: Record<string, string>;
  exporter: OtlpExporterOptions | SpanExporter | "console";
  batch?: BatchOptions | false;
  /** TracingOptions.traceNamespace: mixed into every derived id. */
  traceNamespace?: string;
}

/** Spans exported, failed to export, and dropped before export (the queue was full). */
export interface ExportCounts {
  exported: number;
  failed: number;
  dropped: number;
}

/**
 * Takes span records and exports them: OtlpRecordExporter (OTLP/HTTP protobuf, encoding records
 * directly) or SpanWriter (OpenTelemetry span objects, for OTLP JSON, the console and exporter objects).
 */
export interface RecordWriter {
  readonly counts: ExportCounts;
  write(r: SpanRecord): void;
  /** A batch from the engine's thread (the writer may keep it). */
  writeColumns(columns: SpanColumns): void;
  /** Export everything written so far and wait for it. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
