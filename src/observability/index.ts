// Observability of Dirigent: Prometheus metrics, OpenTelemetry traces, structured logs and alerts.
export {
  ALERT_FIRING,
  ALERT_RESOLVED,
  type AlertsView,
  type AlertView,
  createAlerts,
  type DirigentAlerts,
} from "./alerts/alerts.js";
export {
  type AlertRule,
  type AlertRuleConfig,
  type AlertsConfig,
  resolveAlertsConfig,
  type Severity,
  type WebhookConfig,
} from "./alerts/rules.js";
export { attachLogging, createLogger, type Logger, type LoggerOptions, SECRET_KEYS } from "./logs.js";
export { createMetrics, type DirigentMetrics, type MetricsOptions } from "./metrics.js";
export { attachObservability, type Observability, type ObservabilityOptions } from "./observability.js";
export { formatTraceparent, parseTraceparent, runRootSpanId, runTraceId } from "./trace-context.js";
export {
  createTracing,
  type DirigentTracing,
  type OtlpExporterOptions,
  type TracingOptions,
} from "./tracing.js";
export { tracingOptionsFromEnv } from "./tracing-env.js";
export { ATTR as SPAN_ATTRIBUTES } from "./tracing-spans.js";
