import { type DestinationStream, type Logger, type LoggerOptions as PinoOptions, pino } from "pino";
import type { ErrorInfo } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import { prettyLines } from "./pretty-log.js";
import type { DirigentTracing } from "./tracing.js";
import type { AttemptKey } from "./tracing-spans.js";

export type { Logger };

export interface LoggerOptions {
  /** pino level (default "info"); "silent" logs nothing. */
  level?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** One human-readable line per record instead of JSON (`dirigent dev`). */
  pretty?: boolean;
  /** Colour the pretty lines (default: when stdout is a terminal). */
  colorize?: boolean;
  /**
   * More fields to redact. A bare name (`"ssn"`) is redacted as a top-level field and at any depth of
   * logged errors; a path (`"order.card.number"`, pino syntax, wildcards allowed but costly) exactly
   * there.
   */
  redact?: string[];
  /** Where lines go (default stdout). */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line (e.g. `{ node: engine.nodeId }`). */
  base?: Record<string, unknown>;
}

/** Key names always redacted, at any depth of logged errors. Compared case-insensitively. */
export const SECRET_KEYS = [
  "password",
  "passwd",
  "secret",
  "token",
  "accessToken",
  "refreshToken",
  "apiKey",
  "api_key",
  "authorization",
  "cookie",
  "set-cookie",
  "clientSecret",
  "privateKey",
] as const;

const CENSOR = "[Redacted]";

/** Credentials in logged HTTP headers (fastify's request logs among them). */
const HEADER_PATHS = [
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
];

/**
 * A pino logger: JSON lines (or human-readable with `pretty`), with secrets redacted: the keys of
 * SECRET_KEYS and the bare names of `redact` as top-level fields and anywhere inside a logged error
 * (`error`, `err`), credentials in logged headers, and the configured paths.
 *
 * @example
 * const logger = createLogger({ level: "info", redact: ["customer.iban"] });
 * attachLogging(engine, logger, { tracing });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const names = (options.redact ?? []).filter((p) => !/[.[\]*]/.test(p));
  const paths = (options.redact ?? []).filter((p) => /[.[\]*]/.test(p));
  const secretKeys = new Set([...SECRET_KEYS, ...names].map((k) => k.toLowerCase()));
  // Top-level paths cost pino nothing; wildcard paths (`*.password`) cost ~10 µs a line, so nested
  // secrets are removed where they come from, logged errors, by the serializers below.
  const topLevel = [...SECRET_KEYS, ...names].map((k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`));
  const pinoOptions: PinoOptions = {
    level: options.level ?? "info",
    base: options.base ?? null,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...topLevel, ...HEADER_PATHS, ...paths], censor: CENSOR },
    serializers: {
      error: (value: unknown) => redactDeep(value, secretKeys),
      err: (value: unknown) => redactDeep(pino.stdSerializers.err(value as Error), secretKeys),
    },
  };
  if (options.pretty) {
    // pino-pretty as a plain function in this thread, not a transport: each line is written as it is
    // logged, and there is no stream or worker to flush and end at shutdown.
    const prettify = prettyLines(options.colorize);
    const target = options.destination ?? process.stdout;
    return pino(pinoOptions, { write: (line: string) => target.write(prettify(line)) });
  }
  return options.destination
    ? pino(pinoOptions, options.destination as DestinationStream)
    : pino(pinoOptions);
}

/**
 * Log the engine's lifecycle events, one structured line each with `runId`, `workflow`, `step`,
 * `seq`, `attempt` and, with tracing on, `trace_id` and `span_id` (OpenTelemetry's names, so log
 * backends link lines to traces). Levels: run created/finished info, failed runs and retries warn,
 * engine errors error, the rest debug. Returns the detach function.
 */
export function attachLogging(
  engine: Engine,
  logger: Logger,
  options: { tracing?: DirigentTracing } = {},
): () => void {
  const tracing = options.tracing?.enabled ? options.tracing : undefined;
  const trace = (runId: string) => (tracing ? { trace_id: tracing.traceIdOf(runId) } : {});
  /** A step event's trace fields: the attempt's own span, derived from what the event carries. */
  const traceOfAttempt = (a: AttemptKey) =>
    tracing ? { trace_id: tracing.traceIdOf(a.runId), span_id: tracing.attemptSpanId(a) } : {};
  const offs = [
    engine.events.on("run:created", ({ runId, workflow }) => {
      logger.info({ runId, workflow, ...trace(runId) }, "run created");
    }),
    engine.events.on("run:claimed", (e) => {
      if (!e.takeover && !logger.isLevelEnabled("debug")) return;
      const fields = {
        runId: e.runId,
        workflow: e.workflow,
        fence: e.fence,
        replay: e.replay,
        ...trace(e.runId),
      };
      if (e.takeover)
        logger.info({ ...fields, takeover: true }, "run taken over after its owner's lease ran out");
      else logger.debug(fields, "run claimed");
    }),
    engine.events.on("run:suspended", ({ runId, wakeAt }) => {
      if (logger.isLevelEnabled("debug")) logger.debug({ runId, wakeAt, ...trace(runId) }, "run suspended");
    }),
    engine.events.on("run:lease-lost", ({ runId, workflow, fence, reason, sinceRenewalMs }) => {
      logger.warn(
        { runId, workflow, fence, reason, sinceRenewalMs, ...trace(runId) },
        "run's lease lost: its steps were aborted here; it will be claimed again",
      );
    }),
    engine.events.on("run:finished", ({ runId, workflow, status, error, durationMs }) => {
      const fields = { runId, workflow: workflow || undefined, status, durationMs, ...trace(runId) };
      if (status === "failed") logger.warn({ ...fields, error: errorFields(error) }, "run failed");
      else logger.info(fields, `run ${status}`);
    }),
    // Debug lines are checked first: building their fields (and trace ids) per step costs when unused.
    engine.events.on("step:started", (e) => {
      if (!logger.isLevelEnabled("debug")) return;
      const { runId, seq, name, attempt } = e;
      logger.debug({ runId, step: name, seq, attempt, ...traceOfAttempt(e) }, "step attempt started");
    }),
    engine.events.on("step:completed", (e) => {
      if (!logger.isLevelEnabled("debug")) return;
      const { runId, seq, name, attempt, durationMs } = e;
      logger.debug({ runId, step: name, seq, attempt, durationMs, ...traceOfAttempt(e) }, "step completed");
    }),
    engine.events.on("step:retrying", (e) => {
      const { runId, seq, name, attempt, delayMs, error } = e;
      logger.warn(
        { runId, step: name, seq, attempt, delayMs, error: errorFields(error), ...traceOfAttempt(e) },
        "step attempt failed; retrying",
      );
    }),
    engine.events.on("step:failed", (e) => {
      const { runId, seq, name, attempt, error } = e;
      logger.warn(
        { runId, step: name, seq, attempt, error: errorFields(error), ...traceOfAttempt(e) },
        "step failed",
      );
    }),
    engine.events.on("engine:error", ({ error, context }) => {
      logger.error({ context, err: error }, "engine error");
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** The error fields worth a log line (the stack only at debug: it is long and in the journal anyway). */
function errorFields(error: ErrorInfo | undefined): Record<string, unknown> | undefined {
  if (!error) return undefined;
  const { name, message, code, details, terminal } = error;
  return { name, message, code, terminal, details };
}

/** A copy of `value` with the values of secret keys replaced, at any depth (cycles cut). */
export function redactDeep(value: unknown, secretKeys: ReadonlySet<string>, seen = new WeakSet()): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secretKeys, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = secretKeys.has(k.toLowerCase()) ? CENSOR : redactDeep(v, secretKeys, seen);
  }
  return out;
}
