import type { ZodType } from "zod";
import type { RetryPolicy } from "../core/retry.js";
import type { WorkflowContext } from "./context.js";

export type WorkflowFn<I = any, O = any> = (ctx: WorkflowContext, input: I) => Promise<O>;

export interface WorkflowOptions<I = any> {
  /** Recorded on every run. Register several versions side by side; runs replay on the one they started. */
  version?: string;
  /** Validates the input at start; invalid input is refused with INVALID_INPUT and no run is created. */
  input?: ZodType<I>;
  /** Default retry policy of this workflow's steps (each step may override it). */
  retry?: Partial<RetryPolicy>;
  /** Deadline of a whole run; past it the run fails with RUN_TIMEOUT (and compensates). */
  runTimeoutMs?: number;
}

export interface WorkflowDefinition<I = any, O = any> {
  readonly name: string;
  readonly version: string;
  readonly fn: WorkflowFn<I, O>;
  readonly options: WorkflowOptions<I>;
}

/**
 * Define a workflow: an ordinary async function whose every `ctx` call is journaled, so the run
 * survives crashes and restarts and never repeats a completed step.
 *
 * @example
 * const greet = workflow("greet", async (ctx, name: string) => {
 *   const text = await ctx.step("compose", () => `hello ${name}`);
 *   await ctx.sleep("pause", "1s");
 *   return text;
 * });
 */
export function workflow<I = any, O = any>(
  name: string,
  fn: WorkflowFn<I, O>,
  options: WorkflowOptions<I> = {},
): WorkflowDefinition<I, O> {
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(name)) {
    throw new TypeError(`workflow name "${name}" must be 1-128 characters of letters, digits, . _ : -`);
  }
  return Object.freeze({ name, version: options.version ?? "1", fn, options });
}
