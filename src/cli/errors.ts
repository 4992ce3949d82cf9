import { DirigentError } from "../core/errors.js";

/** Exit codes of the `dirigent` command. */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
/** Stopped early by Ctrl-C (128 + SIGINT), after stopping the engine cleanly. */
export const EXIT_INTERRUPTED = 130;

const USAGE = Symbol.for("dirigent.cli.usage");

/**
 * A mistake in how the command was called (a missing option, two options that exclude each other):
 * reported like any DirigentError, with code INVALID_ARGUMENT, but the process exits with 2.
 */
export class UsageError extends DirigentError {
  readonly [USAGE] = true;
  constructor(message: string, details?: unknown) {
    super("INVALID_ARGUMENT", message, details);
    this.name = "UsageError";
  }
}

export function isUsageError(value: unknown): value is UsageError {
  return typeof value === "object" && value !== null && (value as any)[USAGE] === true;
}
