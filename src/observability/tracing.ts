import { ROOT_CONTEXT } from "@opentelemetry/api";
import { SamplingDecision, type SpanExporter, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { z } from "zod";
import { DirigentError } from "../core/errors.js";
import type { Engine } from "../runtime/engine.js";
import type { OutgoingCall } from "../runtime/events.js";
import type { OtlpExporterOptions } from "./export-config.js";
import { observeHttpCalls } from "./http-calls.js";
import { SpanIds } from "./span-ids.js";
import { createSpanSink, type SpanSink, type TracingStats } from "./span-sink.js";
import { type AttemptKey, RunSpans } from "./tracing-spans.js";

export type { OtlpExporterOptions } from "./export-config.js";
export type { TracingStats } from "./span-sink.js";

export interface TracingOptions {
  /** `service.name` of the spans (default "dirigent"). */
  serviceName?: string;
  serviceVersion?: string;
  /** More resource attributes (e.g. `deployment.environment`). */
  resourceAttributes?: Record<string, string>;
  /**
   * Where spans go. Without an exporter tracing is off: no spans, no headers, no cost. An OTLP URL or
   * "console" exports from a worker thread (the engine's thread only records ids and times); a
   * SpanExporter object cannot cross threads, so its spans are built in the engine's thread.
   */
  exporter?: OtlpExporterOptions | SpanExporter | "console";
  /** Batching (the default, with OpenTelemetry's defaults) or `false` to export each span at once. */
  batch?:
    | {
        scheduleDelayMs?: number;
        maxQueueSize?: number;
        maxExportBatchSize?: number;
        exportTimeoutMs?: number;
      }
    | false;
  /** Share of runs traced, 0..1 (default 1). Decided per run from its trace id: all of a run or none. */
  sampleRatio?: number;
  /** Mixed into the trace ids derived from run ids; set it per deployment sharing one backend. */
  traceNamespace?: string;
  /** Add `traceparent` to HTTP calls made by step attempts (ctx.http) through undici (default true). */
  propagateHttp?: boolean;
  /** Told when the tracing worker fails or an export fails (default: a process warning). */
  onError?: (error: Error) => void;
}

/** What `createTracing` returns. */
export interface DirigentTracing {
  /** False when no exporter was configured: every method is then a cheap no-op. */
  readonly enabled: boolean;
  /** Write spans for this engine's runs and step attempts; returns the detach function. */
  attach(engine: Engine): () => void;
  /**
   * The W3C traceparent for a step's outgoing call: the attempt's span for an HTTP call, a new
   * PRODUCER span for a task (handed to the worker). The engine option `traceparent`:
   * `createEngine({ store, traceparent: tracing.traceparentFor })` (it needs no binding).
   */
  traceparentFor(call: OutgoingCall): string | undefined;
  /** The trace id of a run (undefined when tracing is off). */
  traceIdOf(runId: string): string | undefined;
  /** The span id of the attempt of step `seq` in flight on an attached engine. */
  spanIdOf(runId: string, seq: number): string | undefined;
  /** The span id of a step attempt, from what its events carry (for logs); undefined when tracing is off. */
  attemptSpanId(attempt: AttemptKey): string | undefined;
  /** Spans recorded, dropped (queue full), exported and failed to export, so far. */
  stats(): TracingStats;
  /** Export every finished span now. */
  forceFlush(): Promise<void>;
  /** End spans still open (as abandoned), export, and stop. */
  shutdown(): Promise<void>;
}

const optionsSchema = z
  .object({
    serviceName: z.string().min(1).optional(),
    serviceVersion: z.string().optional(),
    resourceAttributes: z.record(z.string(), z.string()).optional(),
    exporter: z
      .union([
        z.literal("console"),
        z
          .object({
            url: z.url(),
            protocol: z.enum(["http/protobuf", "http/json"]).optional(),
            headers: z.record(z.string(), z.string()).optional(),
            timeoutMs: z.number().int().positive().optional(),
          })
          .strict(),
        z.custom<SpanExporter>((v) => typeof (v as SpanExporter)?.export === "function"),
      ])
      .optional(),
    batch: z
      .union([
        z.literal(false),
        z
          .object({
            scheduleDelayMs: z.number().int().min(0).optional(),
            maxQueueSize: z.number().int().positive().optional(),
            maxExportBatchSize: z.number().int().positive().optional(),
            exportTimeoutMs: z.number().int().positive().optional(),
          })
          .strict(),
      ])
      .optional(),
    sampleRatio: z.number().min(0).max(1).optional(),
    traceNamespace: z.string().optional(),
    propagateHttp: z.boolean().optional(),
    onError: z.function().optional(),
  })
  .strict();

/**
 * Tracing with OpenTelemetry: one trace per run (its id derived from the run id, so a run resumed on
 * another node after a crash continues the same trace), a root span per run, a span per claim of the
 * run by a node, and a span per step attempt carrying `dirigent.run_id`, `dirigent.workflow`,
 * `dirigent.step` and `dirigent.attempt`. Outgoing HTTP calls of step attempts carry the attempt's
 * W3C `traceparent`; tasks get one for their worker through `traceparentFor`. Library code: options
 * only; the entry point turns `OTEL_*` variables into options with `tracingOptionsFromEnv`.
 *
 * @example
 * const tracing = createTracing({ serviceName: "orders", exporter: { url: "http://otel:4318/v1/traces" } });
 * tracing.attach(engine);
 * // ... on shutdown, after engine.stop():
 * await tracing.shutdown();
 */
export function createTracing(options: TracingOptions = {}): DirigentTracing {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`);
    throw new DirigentError("INVALID_OPTIONS", `invalid tracing options: ${issues.join("; ")}`, { issues });
  }
  if (!options.exporter) return DISABLED;
  return new EngineTracing(options);
}

const DISABLED: DirigentTracing = {
  enabled: false,
  attach: () => () => {},
  traceparentFor: () => undefined,
  traceIdOf: () => undefined,
  spanIdOf: () => undefined,
  attemptSpanId: () => undefined,
  stats: () => ({ recorded: 0, dropped: 0, exported: 0, failed: 0 }),
  forceFlush: async () => {},
  shutdown: async () => {},
};

class EngineTracing implements DirigentTracing {
  readonly enabled = true;
  private readonly sink: SpanSink;
  private readonly spans: RunSpans;
  private readonly detachers = new Set<() => void>();
  private stopped = false;

  constructor(options: TracingOptions) {
    const ratio = options.sampleRatio ?? 1;
    const sampler = ratio < 1 ? new TraceIdRatioBasedSampler(ratio) : undefined;
    // Decided per run from its trace id, so every node (and the worker of a task) decides alike.
    const sampledRun = sampler
      ? (traceId: string) =>
          sampler.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED
      : undefined;
    const onError = options.onError ?? ((error: Error) => process.emitWarning(error, "DirigentTracing"));
    this.sink = createSpanSink(
      {
        serviceName: options.serviceName,
        serviceVersion: options.serviceVersion,
        resourceAttributes: options.resourceAttributes,
        exporter: options.exporter!,
        batch: options.batch,
        traceNamespace: options.traceNamespace,
      },
      onError,
    );
    this.spans = new RunSpans(this.sink, new SpanIds(options.traceNamespace ?? ""), sampledRun);
    if (options.propagateHttp !== false) {
      this.detachers.add(
        observeHttpCalls({
          onCreate: (call) => {
            if (call.hasTraceparent || !call.idempotencyKey) return;
            const header = this.spans.attemptTraceparentByKey(call.idempotencyKey);
            if (header) call.addHeader("traceparent", header);
          },
        }),
      );
    }
  }

  attach(engine: Engine): () => void {
    if (this.stopped) return () => {};
    const detach = this.spans.listen(engine);
    this.detachers.add(detach);
    return () => {
      this.detachers.delete(detach);
      detach();
    };
  }

  // An arrow property, so it can be handed over unbound: createEngine({ traceparent: tracing.traceparentFor }).
  readonly traceparentFor = (call: OutgoingCall): string | undefined => {
    if (this.stopped) return undefined;
    return this.spans.callTraceparent(call);
  };

  traceIdOf(runId: string): string {
    return this.spans.traceIdOf(runId);
  }

  spanIdOf(runId: string, seq: number): string | undefined {
    return this.spans.inFlightSpanId(runId, seq);
  }

  attemptSpanId(attempt: AttemptKey): string {
    return this.spans.attemptSpanId(attempt);
  }

  stats(): TracingStats {
    return this.sink.stats();
  }

  async forceFlush(): Promise<void> {
    await this.spans.settled();
    await this.sink.flush();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Before detaching: endAll asks the attached engines which runs they still execute.
    this.spans.endAll("shutdown");
    for (const detach of [...this.detachers]) detach();
    this.detachers.clear();
    await this.spans.settled();
    await this.sink.shutdown();
  }
}
