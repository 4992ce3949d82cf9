import { DirigentError } from "../core/errors.js";

/** The error codes of the declarative language (all in ERROR_CODES and docs/errors.md). */
export type DslErrorCode =
  | "INVALID_DEFINITION"
  | "EXPRESSION_ERROR"
  | "DEFINITION_NOT_FOUND"
  | "SECRET_NOT_FOUND";

export function dslError(code: DslErrorCode, message: string, details?: unknown): DirigentError {
  return new DirigentError(code, message, details);
}

/** Where a definition problem is: the file, 1-based line and column, and the path in the document. */
export interface DefinitionLocation {
  file: string;
  line: number;
  column: number;
  /** `steps[2].http.url` */
  path: string;
}

/** One problem found in a definition. */
export interface DefinitionIssue extends DefinitionLocation {
  message: string;
  /** What was expected there, in words. */
  expected: string;
}

/**
 * INVALID_DEFINITION for the first issue (in file order); every issue is in `details.issues`.
 * The message reads `file:line:column: path: message (expected …)`.
 */
export function invalidDefinition(issues: DefinitionIssue[]): DirigentError {
  const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
  const first = sorted[0];
  const more = sorted.length > 1 ? ` (and ${sorted.length - 1} more)` : "";
  return dslError(
    "INVALID_DEFINITION",
    `${first.file}:${first.line}:${first.column}: ${first.path || "(document)"}: ${first.message}; expected ${first.expected}${more}`,
    {
      file: first.file,
      line: first.line,
      column: first.column,
      path: first.path,
      expected: first.expected,
      issues: sorted,
    },
  );
}

/** `["steps", 2, "http", "url"]` → `steps[2].http.url` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}
