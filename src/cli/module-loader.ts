import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DirigentError } from "../core/errors.js";
import type { WorkflowDefinition } from "../runtime/workflow.js";

/** Whether a value looks like a workflow definition: a `name` and a function `fn`. */
export function isWorkflowDefinition(value: unknown): value is WorkflowDefinition {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as WorkflowDefinition).name === "string" &&
    typeof (value as WorkflowDefinition).fn === "function"
  );
}

/**
 * The workflows a module's exports hold: every export that is a workflow definition, and the items of
 * an exported array named `workflows`. The same definition exported twice counts once.
 */
export function collectWorkflows(exports: Record<string, unknown>): WorkflowDefinition[] {
  const found = new Set<WorkflowDefinition>();
  for (const value of Object.values(exports)) if (isWorkflowDefinition(value)) found.add(value);
  const list = exports.workflows;
  if (Array.isArray(list)) for (const value of list) if (isWorkflowDefinition(value)) found.add(value);
  // Definitions built by hand may lack a version or options; give them the defaults workflow() gives.
  return [...found].map((def) =>
    def.version !== undefined && def.options !== undefined
      ? def
      : { name: def.name, fn: def.fn, version: def.version ?? "1", options: def.options ?? {} },
  );
}

/** Import a .ts or .js module (relative to `cwd`) and collect its workflows. */
export async function loadWorkflowModule(file: string, cwd = process.cwd()): Promise<WorkflowDefinition[]> {
  const path = resolve(cwd, file);
  if (!existsSync(path)) {
    throw new DirigentError("INVALID_ARGUMENT", `module "${file}" does not exist`, { module: path });
  }
  let exports: Record<string, unknown>;
  try {
    exports = await import(pathToFileURL(path).href);
  } catch (error) {
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `module "${file}" could not be loaded: ${(error as Error).message}`,
      {
        module: path,
      },
    );
  }
  const workflows = collectWorkflows(exports);
  if (workflows.length === 0) {
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `module "${file}" exports no workflows (export workflow(...) definitions or an array named "workflows")`,
      { module: path },
    );
  }
  return workflows;
}
