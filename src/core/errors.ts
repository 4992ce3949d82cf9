import type { ErrorInfo } from "./types.js";

/**
 * Every error that leaves the engine carries one of these stable codes. docs/errors.md lists them all
 * (a test keeps the two in step) and `httpStatusFor` maps each to one HTTP status.
 */
export const ERROR_CODES = {
  WORKFLOW_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  RUN_ALREADY_EXISTS: 409,
  RUN_FINISHED: 409,
  RUN_NOT_FINISHED: 409,
  RUN_FAILED: 409,
  RUN_CANCELLED: 409,
  RUN_TERMINATED: 409,
  RUN_TIMEOUT: 409,
  INVALID_INPUT: 400,
  INVALID_JSON: 400,
  INVALID_ARGUMENT: 400,
  INVALID_OPTIONS: 400,
  PAYLOAD_TOO_LARGE: 413,
  NONDETERMINISM: 500,
  STEP_FAILED: 500,
  CHILD_FAILED: 500,
  WORKFLOW_UNAVAILABLE: 503,
  STEP_TIMEOUT: 504,
  SIGNAL_TIMEOUT: 504,
  STALE_FENCE: 409,
  ENGINE_STOPPED: 503,
  RESULT_TIMEOUT: 504,
  RUN_NOT_RETRYABLE: 409,
  TASK_NOT_FOUND: 404,
  TASK_LEASE_EXPIRED: 409,
  TASK_TIMEOUT: 504,
  QUEUE_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  SCHEDULE_ALREADY_EXISTS: 409,
  INVALID_CRON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ROUTE_NOT_FOUND: 404,
  SERVER_UNAVAILABLE: 503,
  INVALID_DEFINITION: 400,
  EXPRESSION_ERROR: 400,
  DEFINITION_NOT_FOUND: 404,
  SECRET_NOT_FOUND: 500,
  INTERNAL: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function httpStatusFor(code: string): number {
  return (ERROR_CODES as Record<string, number>)[code] ?? 500;
}

// Marker shared across copies of this package, so errors are recognised by marker, not only instanceof.
const DIRIGENT_ERROR = Symbol.for("dirigent.error");

/** Base class of every error Dirigent raises on purpose. */
export class DirigentError extends Error {
  readonly [DIRIGENT_ERROR] = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "DirigentError";
  }
}

export function isDirigentError(value: unknown): value is DirigentError {
  return typeof value === "object" && value !== null && (value as any)[DIRIGENT_ERROR] === true;
}

const TERMINAL = Symbol.for("dirigent.terminal");
const RETRYABLE = Symbol.for("dirigent.retryable");

/** Thrown by user code to fail a step at once, without further retries. */
export class TerminalError extends Error {
  readonly [TERMINAL] = true;
  constructor(
    message: string,
    readonly options: { code?: string; details?: unknown } = {},
  ) {
    super(message);
    this.name = "TerminalError";
  }
}

/** Thrown by user code to ask for a retry, optionally no earlier than `retryAfterMs` from now. */
export class RetryableError extends Error {
  readonly [RETRYABLE] = true;
  constructor(
    message: string,
    readonly options: { retryAfterMs?: number; code?: string } = {},
  ) {
    super(message);
    this.name = "RetryableError";
  }
}

export function isTerminalError(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as any)[TERMINAL] === true;
}

export function retryAfterMsOf(value: unknown): number | undefined {
  if (typeof value === "object" && value !== null && (value as any)[RETRYABLE] === true) {
    return (value as RetryableError).options.retryAfterMs;
  }
  return undefined;
}

/** The workflow code no longer matches its journal. Names expected and recorded entries. */
export class NondeterminismError extends DirigentError {
  constructor(
    readonly seq: number,
    readonly expected: string,
    readonly recorded: string,
  ) {
    super(
      "NONDETERMINISM",
      `nondeterminism at seq ${seq}: the code now calls ${expected} but the journal recorded ${recorded}`,
      { seq, expected, recorded },
    );
    this.name = "NondeterminismError";
  }
}

/** A step failed for good (retries exhausted or terminal); thrown into the workflow code. */
export class StepFailedError extends DirigentError {
  constructor(
    readonly stepName: string,
    readonly cause: ErrorInfo,
  ) {
    super("STEP_FAILED", `step "${stepName}" failed: ${cause.message}`, { step: stepName, cause });
    this.name = "StepFailedError";
  }
}

/** Serialize anything thrown into the stored error shape. */
export function toErrorInfo(value: unknown, opts: { withStack?: boolean } = {}): ErrorInfo {
  if (value instanceof Error) {
    const info: ErrorInfo = { name: value.name, message: value.message };
    const code = (value as any).code ?? (value as any).options?.code;
    if (typeof code === "string") info.code = code;
    const details = (value as any).details;
    if (details !== undefined) info.details = details;
    if (isTerminalError(value)) {
      info.terminal = true;
      const t = value as TerminalError;
      if (t.options.code) info.code = t.options.code;
      if (t.options.details !== undefined) info.details = t.options.details;
    }
    if (opts.withStack && value.stack) info.stack = value.stack;
    return info;
  }
  if (typeof value === "object" && value !== null && typeof (value as any).message === "string") {
    return { name: String((value as any).name ?? "Error"), message: (value as any).message };
  }
  return { name: "Error", message: String(value) };
}

/** Rebuild a throwable error from its stored form (used when replaying a failed step). */
export function fromErrorInfo(info: ErrorInfo): Error {
  const err = new Error(info.message);
  err.name = info.name;
  if (info.code) (err as any).code = info.code;
  if (info.details !== undefined) (err as any).details = info.details;
  return err;
}
