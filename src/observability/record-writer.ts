// Picks the record writer for an export configuration (see RecordWriter in export-config.ts).
import type { ExportConfig, RecordWriter } from "./export-config.js";
import { OtlpRecordExporter } from "./otlp-record-exporter.js";
import { resourceAttributes, SCOPE_NAME } from "./span-attributes.js";
import { SpanWriter } from "./span-writer.js";

/**
 * OTLP/HTTP protobuf (the default protocol) is encoded straight from records; OTLP JSON, the console
 * and SpanExporter objects go through OpenTelemetry's span objects and exporters.
 */
export function createRecordWriter(config: ExportConfig): RecordWriter {
  const exporter = config.exporter;
  if (typeof exporter === "object" && "url" in exporter && exporter.protocol !== "http/json") {
    return new OtlpRecordExporter(
      exporter,
      { resource: resourceAttributes(config), scopeName: SCOPE_NAME, traceNamespace: config.traceNamespace },
      config.batch === false ? { maxExportBatchSize: 1, scheduleDelayMs: 0 } : config.batch,
    );
  }
  return new SpanWriter(config);
}
