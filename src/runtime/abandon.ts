/**
 * Internal control flow: thrown into workflow code when the run must stop (cancelled, failed elsewhere,
 * lost its lease). Marked with a private symbol so the runtime recognises it however user code wraps
 * or rethrows it; user code that catches it and calls ctx again just gets it again.
 */
const ABANDONED = Symbol("dirigent.abandoned");

export class Abandoned extends Error {
  readonly [ABANDONED] = true;
  constructor() {
    super("the run is no longer executing here");
    this.name = "Abandoned";
  }
}

export function isAbandoned(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as any)[ABANDONED] === true;
}
