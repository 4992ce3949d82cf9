import { DirigentError } from "../core/errors.js";
import type { WriteResult } from "../store/store.js";

/** Turn a refused operation on a run from outside (signal, cancel, terminate) into its stable error. */
export function throwIfRefused(r: WriteResult, runId: string, what: string): void {
  if (r.ok) return;
  if (r.code === "RUN_NOT_FOUND")
    throw new DirigentError("RUN_NOT_FOUND", `run "${runId}" not found`, { runId });
  throw new DirigentError("RUN_FINISHED", `cannot ${what} run "${runId}": it is already ${r.status}`, {
    runId,
    status: r.status,
  });
}
