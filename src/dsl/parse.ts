import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { checkDefinition } from "./check.js";
import { type DefinitionIssue, formatPath, invalidDefinition } from "./errors.js";
import { type DslDocument, definitionSchema, STEP_KINDS, STEP_SCHEMAS } from "./schema.js";

/** Largest definition source accepted, in characters. */
export const MAX_SOURCE_CHARS = 1_000_000;
/** Deepest nesting of maps and lists accepted (also bounds recursion in every later pass). */
export const MAX_NESTING = 64;

export interface ParseOptions {
  /** Named in errors; also decides the format when `format` is not given (`.json` → JSON). */
  file?: string;
  format?: "yaml" | "json";
}

export interface ParsedDefinition {
  doc: DslDocument;
  format: "yaml" | "json";
  source: string;
  file: string;
}

type Path = (string | number)[];

/**
 * Parse and validate a definition (YAML or JSON). Every problem is an INVALID_DEFINITION DirigentError
 * whose details name the file, the 1-based line and column, the path in the document and what was
 * expected there; it never throws anything else.
 *
 * @example
 * const { doc } = parseDefinition(readFileSync("place-order.yaml", "utf8"), { file: "place-order.yaml" });
 */
export function parseDefinition(source: string, options: ParseOptions = {}): ParsedDefinition {
  const file = options.file ?? "<definition>";
  const at = (message: string, expected: string, line = 1, column = 1, path = ""): DefinitionIssue => ({
    file,
    line,
    column,
    path,
    message,
    expected,
  });
  if (typeof source !== "string") throw invalidDefinition([at("not text", "the definition as a string")]);
  if (source.length > MAX_SOURCE_CHARS) {
    throw invalidDefinition([
      at(`the definition is ${source.length} characters long`, `at most ${MAX_SOURCE_CHARS}`),
    ]);
  }
  const format = options.format ?? (/\.json$/i.test(file) ? "json" : /^\s*\{/.test(source) ? "json" : "yaml");
  const lineCounter = new LineCounter();
  try {
    if (format === "json") checkJsonSyntax(source, at);
    const yamlDoc = parseDocument(source, {
      lineCounter,
      prettyErrors: false,
      uniqueKeys: true,
      strict: true,
      version: "1.2",
      schema: "core",
      customTags: [],
    });
    const problem = yamlDoc.errors[0] ?? yamlDoc.warnings[0];
    if (problem) {
      const pos = lineCounter.linePos(problem.pos[0]);
      const what = problem.message.split("\n")[0];
      throw invalidDefinition([
        at(
          `${format === "json" ? "JSON" : "YAML"} syntax: ${what}`,
          expectedForYaml(problem.code),
          pos.line,
          pos.col,
        ),
      ]);
    }
    const locate = (path: Path, keyOf?: string) => {
      const offset = offsetOf(yamlDoc.contents as Node | null, path, keyOf);
      const pos = lineCounter.linePos(offset);
      return { line: pos.line, column: pos.col };
    };
    const issue = (path: Path, message: string, expected: string, keyOf?: string): DefinitionIssue => ({
      file,
      ...locate(path, keyOf),
      path: formatPath(keyOf === undefined ? path : [...path, keyOf]),
      message,
      expected,
    });
    const depthProblem = deepestPath(yamlDoc.contents as Node | null);
    if (depthProblem) {
      throw invalidDefinition([
        issue(depthProblem, `nested more than ${MAX_NESTING} levels deep`, `at most ${MAX_NESTING} levels`),
      ]);
    }
    let raw: unknown;
    try {
      raw = yamlDoc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw invalidDefinition([at(`YAML: ${(err as Error).message}`, "at most 100 alias expansions")]);
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw invalidDefinition([
        issue([], "the document is not a mapping", "a mapping with name and steps (see docs/dsl.md)"),
      ]);
    }
    const parsed = definitionSchema.safeParse(raw);
    if (!parsed.success) {
      throw invalidDefinition(explainIssues(parsed.error.issues, [], raw, issue));
    }
    const doc = parsed.data as DslDocument;
    const problems = checkDefinition(doc).map((p) => issue(p.path, p.message, p.expected));
    if (problems.length > 0) throw invalidDefinition(problems);
    return { doc, format, source, file };
  } catch (err) {
    if ((err as { code?: string })?.code === "INVALID_DEFINITION") throw err;
    // Whatever else went wrong (a bug, a stack overflow on hostile input) is still a located refusal.
    throw invalidDefinition([
      at(`could not be read: ${(err as Error)?.message ?? String(err)}`, "a valid definition"),
    ]);
  }
}

function checkJsonSyntax(
  source: string,
  at: (m: string, e: string, l?: number, c?: number) => DefinitionIssue,
) {
  const error = jsonError(source);
  if (!error) return;
  const offset = jsonErrorOffset(source);
  const before = source.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  const message = error
    .replace(/ in JSON at position.*$/, "")
    .replace(/, (\.\.\.)?".*" is not valid JSON$/s, "");
  throw invalidDefinition([at(`JSON syntax: ${message}`, "valid JSON", line, column)]);
}

function jsonError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Where JSON.parse gave up. Node's messages do not always carry a position, so find the longest prefix
 * that is still the start of valid JSON (its only fault is ending early): the error is just after it.
 */
function jsonErrorOffset(source: string): number {
  const okPrefix = (n: number) => {
    const e = jsonError(source.slice(0, n));
    if (e === undefined || /end of (JSON )?input/i.test(e) || /Unterminated/i.test(e)) return true;
    const pos = /position (\d+)/.exec(e);
    return pos !== null && Number(pos[1]) >= n;
  };
  let lo = 0;
  let hi = source.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (okPrefix(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function expectedForYaml(code: string): string {
  switch (code) {
    case "DUPLICATE_KEY":
      return "each key once per mapping";
    case "TAG_RESOLVE_FAILED":
      return "no custom tags (plain YAML values only)";
    case "BAD_INDENT":
    case "MISSING_CHAR":
    case "UNEXPECTED_TOKEN":
      return "well-formed YAML (check indentation, quotes and brackets)";
    default:
      return "well-formed YAML";
  }
}

/** The source offset of the node at `path` (or of key `keyOf` in it); the deepest existing node if not all exist. */
function offsetOf(root: Node | null, path: Path, keyOf?: string): number {
  let node: Node | null = root;
  let offset = node?.range?.[0] ?? 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      const keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? null;
      offset = node?.range?.[0] ?? keyNode.range?.[0] ?? offset;
      if (!node) break;
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key] as Node | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else break;
  }
  if (keyOf !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === keyOf);
    const k = pair?.key as Node | undefined;
    if (k?.range) offset = k.range[0];
  }
  return offset;
}

function deepestPath(root: Node | null): Path | undefined {
  const walk = (node: unknown, path: Path): Path | undefined => {
    if (path.length > MAX_NESTING) return path;
    if (isMap(node)) {
      for (const p of node.items) {
        const r = walk(p.value, [...path, isScalar(p.key) ? String(p.key.value) : "?"]);
        if (r) return r;
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const r = walk(node.items[i], [...path, i]);
        if (r) return r;
      }
    }
    return undefined;
  };
  return walk(root, []);
}

// ---- zod issues → located, readable issues ---------------------------------------------------------

type IssueAt = (path: Path, message: string, expected: string, keyOf?: string) => DefinitionIssue;

const STEP_LISTS = new Set(["steps", "default", "onFailure"]);
const DURATION_KEYS = new Set([
  "timeout",
  "initialInterval",
  "maxInterval",
  "heartbeatTimeout",
  "scheduleToStartTimeout",
  "duration",
]);

function valueAt(root: unknown, path: Path): unknown {
  let v: any = root;
  for (const k of path) v = v == null ? undefined : v[k];
  return v;
}

function kindKeys(v: unknown, kinds: readonly string[]): string[] {
  return v !== null && typeof v === "object" ? kinds.filter((k) => k in (v as object)) : [];
}

function explainIssues(
  issues: z.core.$ZodIssue[],
  base: Path,
  root: unknown,
  at: IssueAt,
): DefinitionIssue[] {
  return issues.flatMap((i) => explainIssue(i, base, root, at));
}

function explainIssue(i: z.core.$ZodIssue, base: Path, root: unknown, at: IssueAt): DefinitionIssue[] {
  const path = [...base, ...(i.path as Path)];
  const value = valueAt(root, path);
  switch (i.code) {
    case "invalid_type": {
      if (value === undefined) {
        const key = path[path.length - 1];
        return [
          at(
            path.slice(0, -1),
            `"${String(key)}" is missing`,
            `${article(i.expected)} at key "${String(key)}"`,
          ),
        ];
      }
      return [at(path, `got ${describe(value)}`, article(i.expected))];
    }
    case "unrecognized_keys":
      return i.keys.map((k) =>
        at(path, `unknown key "${k}"`, `one of the keys ${knownKeys(path, root).join(", ")}`, k),
      );
    case "invalid_value":
      return [
        at(path, `got ${describe(value)}`, `one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}`),
      ];
    case "too_small":
    case "too_big": {
      const bound = i.code === "too_small" ? "at least" : "at most";
      const limit = String((i as any).minimum ?? (i as any).maximum);
      const unit =
        i.origin === "array"
          ? " item(s)"
          : i.origin === "string"
            ? " character(s)"
            : i.origin === "number"
              ? ""
              : "";
      return [at(path, `got ${describe(value)}`, `${bound} ${limit}${unit}`)];
    }
    case "invalid_format":
      return [at(path, `got ${describe(value)}`, expectedFormat(path, i as any))];
    case "invalid_key":
      return [
        at(
          path,
          "a key is not allowed here",
          "keys that are identifiers (letters, digits, _; not starting with a digit)",
        ),
      ];
    case "invalid_union":
      return explainUnion(i, path, value, root, at);
    default:
      return [at(path, i.message, "a valid value (see docs/dsl.schema.json)")];
  }
}

function explainUnion(
  i: z.core.$ZodIssue & { errors?: z.core.$ZodIssue[][] },
  path: Path,
  value: unknown,
  root: unknown,
  at: IssueAt,
): DefinitionIssue[] {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  const isStep = typeof last === "number" && typeof parent === "string" && STEP_LISTS.has(parent);
  if (isStep) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return [at(path, `got ${describe(value)}`, "a step: a mapping with an id and one kind key")];
    }
    const kinds = kindKeys(value, STEP_KINDS);
    if (kinds.length !== 1) {
      return [
        at(
          path,
          kinds.length === 0
            ? "the step has no kind"
            : `the step has ${kinds.length} kinds (${kinds.join(", ")})`,
          `exactly one of the keys ${STEP_KINDS.join(", ")}`,
        ),
      ];
    }
    const sub = STEP_SCHEMAS[kinds[0] as keyof typeof STEP_SCHEMAS].safeParse(value);
    return sub.success
      ? [at(path, "invalid step", "a valid step")]
      : explainIssues(sub.error.issues, path, root, at);
  }
  if (last === "compensate" || last === "wait") {
    const keys = last === "compensate" ? ["http", "task"] : ["duration", "until"];
    const found = kindKeys(value, keys);
    if (found.length === 1 && value && typeof value === "object") {
      // The branch with that key: report its own problems.
      const branch = (i.errors ?? []).find(
        (errs) =>
          !errs.some(
            (e) =>
              e.path[0] === found[0] && e.code === "invalid_type" && valueAt(value, [found[0]]) === undefined,
          ),
      );
      if (branch?.length) return explainIssues(branch, path, root, at);
    }
    return [at(path, `got ${describe(value)}`, `a mapping with exactly one of the keys ${keys.join(", ")}`)];
  }
  if (typeof last === "string" && DURATION_KEYS.has(last)) {
    return [
      at(path, `got ${describe(value)}`, "a duration: milliseconds, or text like 500ms, 10s, 5m, 2h, 1d"),
    ];
  }
  if (last === "until")
    return [at(path, `got ${describe(value)}`, "an ISO time, epoch milliseconds, or a template")];
  return [at(path, `got ${describe(value)}`, "a string, number or boolean")];
}

function expectedFormat(path: Path, i: { format?: string; pattern?: string }): string {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (last === "id" || parent === "set" || parent === "vars" || last === "as") {
    return "an identifier: letters, digits and _, not starting with a digit, at most 64 characters";
  }
  if (last === "name" && path.length === 1)
    return "a workflow name: 1-128 letters, digits, . _ : - (not starting with . _ : -)";
  if (last === "queue") return "a queue name: 1-100 letters, digits, . _ : -";
  if (last === "workflow") return "a workflow name: 1-128 letters, digits, . _ : -";
  if (last === "code") return "an error code in UPPER_SNAKE_CASE";
  if (typeof last === "string" && DURATION_KEYS.has(last)) return "a duration like 500ms, 10s, 5m, 2h, 1d";
  return `text matching ${i.pattern ?? i.format}`;
}

/** The keys allowed where an unknown key was found (for the "expected" text). */
function knownKeys(path: Path, root: unknown): string[] {
  const keys = shapeKeysAt(definitionSchema as unknown as z.ZodType, path, root, []);
  return keys.length ? keys : ["(see docs/dsl.schema.json)"];
}

function shapeKeysAt(schema: z.ZodType, path: Path, root: unknown, walked: Path): string[] {
  const def = (schema as any)._zod.def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
      return shapeKeysAt(def.innerType, path, root, walked);
    case "pipe":
      return shapeKeysAt(def.in, path, root, walked);
    case "object":
      if (path.length === 0) return Object.keys(def.shape);
      return def.shape[path[0]]
        ? shapeKeysAt(def.shape[path[0]], path.slice(1), root, [...walked, path[0]])
        : [];
    case "array":
      return path.length === 0 ? [] : shapeKeysAt(def.element, path.slice(1), root, [...walked, path[0]]);
    case "record":
      return path.length === 0 ? [] : shapeKeysAt(def.valueType, path.slice(1), root, [...walked, path[0]]);
    case "union": {
      // Pick the option by the key that tells options apart (a step's kind, http/task, duration/until).
      const here = valueAt(root, walked);
      for (const option of def.options as z.ZodType[]) {
        const odef = (option as any)._zod.def;
        if (odef.type !== "object") continue;
        // The option's required keys other than `id`: a step's kind, http/task, duration/until.
        const own = Object.keys(odef.shape).filter(
          (k) => k !== "id" && !(odef.shape[k] as any).safeParse(undefined).success,
        );
        if (own.some((k) => here && typeof here === "object" && k in here)) {
          return shapeKeysAt(option, path, root, walked);
        }
      }
      return [];
    }
    default:
      return [];
  }
}

function article(expected: string): string {
  if (expected === "object") return "a mapping";
  if (expected === "array") return "a list";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}
