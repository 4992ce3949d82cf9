import { v7 as uuidv7 } from "uuid";
import { DirigentError } from "../core/errors.js";
import type { WorkflowRegistry } from "./registry.js";
import type { WorkflowDefinition } from "./workflow.js";

export interface StartOptions {
  /** The run id is the idempotency key of a start: starting an existing id returns that run. */
  runId?: string;
  /** "return" (default): an existing run with this id is returned; "fail": RUN_ALREADY_EXISTS. */
  onConflict?: "return" | "fail";
  /** Start on a specific registered version instead of the latest. */
  version?: string;
}

export interface StartResult {
  runId: string;
  /** False when a run with this id already existed (and was returned, not started again). */
  created: boolean;
  workflow: string;
  version: string;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$/;

/**
 * A start request checked before anything is written: the workflow (and version) is registered, the
 * input passes the workflow's schema (and is replaced by what it parsed to), and the run id (given or
 * a new UUIDv7) is well-formed. Throws WORKFLOW_NOT_FOUND, INVALID_INPUT or INVALID_ARGUMENT.
 */
export function checkStart(
  registry: WorkflowRegistry,
  workflowName: string,
  input: unknown,
  opts: StartOptions,
): { def: WorkflowDefinition; input: unknown; runId: string } {
  const def = registry.get(workflowName, opts.version);
  if (!def) {
    throw new DirigentError(
      "WORKFLOW_NOT_FOUND",
      `workflow "${workflowName}"${opts.version ? ` version ${opts.version}` : ""} is not registered`,
      { workflow: workflowName, known: registry.names() },
    );
  }
  if (def.options.input) {
    const parsed = def.options.input.safeParse(input);
    if (!parsed.success) {
      throw new DirigentError("INVALID_INPUT", `input of workflow "${def.name}" is invalid`, {
        issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
      });
    }
    input = parsed.data;
  }
  const runId = opts.runId ?? uuidv7();
  if (!RUN_ID.test(runId)) {
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `run id "${runId}" must be 1-200 characters of letters, digits and . _ : @ / -`,
    );
  }
  return { def, input, runId };
}
