import jsonata from "jsonata";
import { TerminalError } from "../core/errors.js";
import { dslError } from "./errors.js";

/**
 * Templates and expressions of the declarative language, evaluated with JSONata (a small, well-kept,
 * side-effect-free query language over JSON: no access to code, modules, the file system or the
 * network). Evaluation is bounded:
 * - time: JSONata's own `timeout` option (checked at every evaluation step) — `timeoutMs`;
 * - depth: JSONata's `stack` option — `maxDepth` nested evaluations (runaway recursion);
 * - size: JSONata's `sequence` option caps every sequence and range (`[1..1e9]`) at `maxSequence`
 *   items; an exit hook refuses any intermediate string longer than `maxStringLength`; the final value
 *   must fit in `maxResultBytes` of JSON.
 * Non-deterministic functions are replaced: in workflow code `$now()`/`$millis()` return a journaled
 * time and `$random()` the run's seeded random (so replay computes the same values); `$eval` is refused.
 *
 * Context: `input`, `vars`, `steps.<id>.output`, plus `item`/`index` in forEach, `result` in output
 * mappings, `error` in onFailure, and `secrets.NAME` in http requests only.
 */

export interface ExpressionLimits {
  timeoutMs: number;
  maxDepth: number;
  maxSequence: number;
  maxStringLength: number;
  maxResultBytes: number;
}

export const DEFAULT_LIMITS: ExpressionLimits = {
  timeoutMs: 1_000,
  maxDepth: 500,
  maxSequence: 100_000,
  maxStringLength: 1_000_000,
  maxResultBytes: 4_000_000,
};

/** One compiled JSONata expression, with what it uses. */
export interface Expr {
  source: string;
  compiled: jsonata.Expression;
  /** `$now()` or `$millis()`: evaluated in workflow code, it needs a journaled time. */
  usesNow: boolean;
  /** Names used as `secrets.NAME`. */
  secrets: string[];
  /** `secrets` used other than as `secrets.NAME` (refused by the checker). */
  badSecretUse: boolean;
}

/** A value with its templates compiled. */
export type Template =
  | { t: "literal"; value: unknown }
  | { t: "expr"; expr: Expr }
  | { t: "text"; parts: (string | Expr)[] }
  | { t: "object"; entries: [string, Template][] }
  | { t: "array"; items: Template[] };

/** A template or expression that does not parse; `position` is the character offset in `source`. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly source: string,
    readonly position?: number,
  ) {
    super(message);
    this.name = "ExpressionSyntaxError";
  }
}

const EXIT_HOOK = Symbol.for("jsonata.__evaluate_exit");

/** Compile one JSONata expression. Throws ExpressionSyntaxError. */
export function compileExpression(source: string, limits: ExpressionLimits = DEFAULT_LIMITS): Expr {
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(source, {
      timeout: limits.timeoutMs,
      stack: limits.maxDepth,
      sequence: limits.maxSequence,
    });
  } catch (err) {
    const e = err as { message?: string; position?: number; code?: string };
    throw new ExpressionSyntaxError(
      `${e.message ?? String(err)}${e.code ? ` (${e.code})` : ""}`,
      source,
      e.position,
    );
  }
  // Refuse any intermediate string over the limit (JSONata has no such limit of its own).
  compiled.assign(
    EXIT_HOOK as unknown as string,
    (_node: unknown, _input: unknown, _env: unknown, result: unknown) => {
      if (typeof result === "string" && result.length > limits.maxStringLength) {
        throw { code: "STRING_LIMIT", message: `a string longer than ${limits.maxStringLength} characters` };
      }
    },
  );
  const uses = scan(compiled.ast());
  return { source, compiled, ...uses };
}

/** An expression field (`when`, `items`): bare JSONata, or wrapped in `{{ }}`. */
export function compileCondition(source: string, limits?: ExpressionLimits): Expr {
  const m = /^\s*\{\{([\s\S]*)\}\}\s*$/.exec(source);
  return compileExpression(m ? m[1] : source, limits);
}

/** Compile every template in a JSON value. Throws ExpressionSyntaxError naming the bad template. */
export function compileTemplate(value: unknown, limits?: ExpressionLimits): Template {
  if (typeof value === "string") return compileText(value, limits);
  if (Array.isArray(value)) return { t: "array", items: value.map((v) => compileTemplate(v, limits)) };
  if (value !== null && typeof value === "object") {
    return {
      t: "object",
      entries: Object.entries(value).map(([k, v]) => [k, compileTemplate(v, limits)]),
    };
  }
  return { t: "literal", value };
}

function compileText(text: string, limits?: ExpressionLimits): Template {
  if (!text.includes("{{")) return { t: "literal", value: text };
  const parts: (string | Expr)[] = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf("{{", at);
    if (open < 0) {
      parts.push(text.slice(at));
      break;
    }
    if (open > at) parts.push(text.slice(at, open));
    // The expression ends at the first "}}" after which it parses: `{{ {"a": {"b": 1}} }}` works.
    let close = text.indexOf("}}", open + 2);
    let expr: Expr | undefined;
    let lastError: ExpressionSyntaxError | undefined;
    while (close >= 0 && !expr) {
      try {
        expr = compileExpression(text.slice(open + 2, close), limits);
      } catch (err) {
        lastError = err as ExpressionSyntaxError;
        close = text.indexOf("}}", close + 1);
      }
    }
    if (!expr) {
      if (lastError) throw lastError;
      throw new ExpressionSyntaxError(`"{{" at character ${open} has no closing "}}"`, text, open);
    }
    if (/^\s*$/.test(expr.source)) throw new ExpressionSyntaxError("empty {{ }} template", text, open);
    parts.push(expr);
    at = close + 2;
  }
  if (parts.length === 1 && typeof parts[0] !== "string") return { t: "expr", expr: parts[0] };
  // Whitespace around a single template does not turn it into text.
  const exprs = parts.filter((p) => typeof p !== "string");
  if (exprs.length === 1 && parts.every((p) => typeof p !== "string" || p.trim() === "")) {
    return { t: "expr", expr: exprs[0] as Expr };
  }
  return { t: "text", parts };
}

/** Every expression in a compiled template. */
export function expressionsOf(t: Template): Expr[] {
  switch (t.t) {
    case "literal":
      return [];
    case "expr":
      return [t.expr];
    case "text":
      return t.parts.filter((p): p is Expr => typeof p !== "string");
    case "object":
      return t.entries.flatMap(([, v]) => expressionsOf(v));
    case "array":
      return t.items.flatMap(expressionsOf);
  }
}

function scan(ast: unknown): { usesNow: boolean; secrets: string[]; badSecretUse: boolean } {
  let usesNow = false;
  let badSecretUse = false;
  const secrets = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (depth > 10_000 || node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const n of node) visit(n, depth + 1);
      return;
    }
    const n = node as Record<string, any>;
    if (n.type === "variable" && (n.value === "now" || n.value === "millis")) usesNow = true;
    const first = n.type === "path" && Array.isArray(n.steps) ? n.steps[0] : undefined;
    if (first?.type === "name" && first.value === "secrets") {
      // Only the plain form `secrets.NAME` is allowed: it names exactly the secret resolved.
      const second = n.steps[1];
      const plain = n.steps.length === 2 && second?.type === "name" && !first.predicate && !first.stages;
      if (plain && !second.predicate && !second.stages && !second.group) secrets.add(second.value);
      else badSecretUse = true;
      for (const [k, v] of Object.entries(n)) if (k !== "steps") visit(v, depth + 1);
      for (const s of n.steps.slice(1)) visit(s, depth + 1);
      return;
    }
    for (const v of Object.values(n)) visit(v, depth + 1);
  };
  visit(ast, 0);
  return { usesNow, secrets: [...secrets], badSecretUse };
}

// ---- evaluation ------------------------------------------------------------------------------------

/** Where an evaluation runs: workflow code (must be deterministic) or inside a step attempt. */
export interface EvalEnv {
  /** Epoch ms returned by `$now()`/`$millis()`; required when an expression uses them. */
  now?: () => number;
  /** `$random()`: the run's seeded random in workflow code. */
  random: () => number;
  /** What is being evaluated, for error messages: `steps[2].http.url`. */
  where: string;
  /** Inside a step attempt errors must be terminal (retrying cannot fix them). */
  inStep?: boolean;
}

/** Evaluate a compiled template against `context`. Throws EXPRESSION_ERROR (terminal in a step). */
export async function evaluate(
  t: Template,
  context: Record<string, unknown>,
  env: EvalEnv,
  limits: ExpressionLimits = DEFAULT_LIMITS,
): Promise<unknown> {
  switch (t.t) {
    case "literal":
      return t.value;
    case "expr":
      return evaluateExpr(t.expr, context, env, limits);
    case "text": {
      let s = "";
      for (const p of t.parts) {
        if (typeof p === "string") s += p;
        else s += textOf(await evaluateExpr(p, context, env, limits));
        if (s.length > limits.maxStringLength) throw expressionError(env, "", "the text is too long");
      }
      return s;
    }
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of t.entries) {
        const r = await evaluate(v, context, env, limits);
        if (r !== undefined) out[k] = r;
      }
      return out;
    }
    case "array": {
      const out: unknown[] = [];
      for (const v of t.items) {
        const r = await evaluate(v, context, env, limits);
        out.push(r === undefined ? null : r);
      }
      return out;
    }
  }
}

/** Evaluate one expression; the result is plain JSON (undefined when the expression matched nothing). */
export async function evaluateExpr(
  expr: Expr,
  context: Record<string, unknown>,
  env: EvalEnv,
  limits: ExpressionLimits = DEFAULT_LIMITS,
): Promise<unknown> {
  if (expr.usesNow && !env.now) {
    throw expressionError(env, expr.source, "$now() and $millis() need a time here (internal error)");
  }
  const nowMs = expr.usesNow ? env.now!() : 0;
  const bindings: Record<string, unknown> = {
    now: (picture?: unknown) => {
      if (picture !== undefined) throw { message: "use $fromMillis($millis(), picture, timezone) instead" };
      return new Date(nowMs).toISOString();
    },
    millis: () => nowMs,
    random: () => env.random(),
    eval: () => {
      throw { message: "$eval is not available" };
    },
  };
  let result: unknown;
  try {
    result = await expr.compiled.evaluate(context, bindings);
  } catch (err) {
    throw expressionError(env, expr.source, describeJsonataError(err, limits));
  }
  return toJson(result, env, expr.source, limits);
}

function describeJsonataError(err: unknown, limits: ExpressionLimits): string {
  const e = err as { code?: string; message?: string; position?: number };
  switch (e?.code) {
    case "D1012":
      return `it ran longer than ${limits.timeoutMs} ms (time limit)`;
    case "D1011":
      return `it nested deeper than ${limits.maxDepth} levels (depth limit: runaway recursion?)`;
    case "D2014":
    case "D2015":
      return `it built a sequence longer than ${limits.maxSequence} items (sequence limit)`;
    case "STRING_LIMIT":
      return `it built ${e.message} (string limit)`;
  }
  if (err instanceof RangeError) return `it exceeded a size limit (${err.message})`;
  const msg = e?.message ?? String(err);
  return `${msg}${e?.code ? ` (${e.code}${e.position !== undefined ? ` at character ${e.position}` : ""})` : ""}`;
}

/** JSONata sequences are arrays with extra flags, and functions may be returned: keep plain JSON only. */
function toJson(value: unknown, env: EvalEnv, source: string, limits: ExpressionLimits): unknown {
  if (value === undefined) return undefined;
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw expressionError(env, source, "the result is not a finite number");
    return value;
  }
  if (typeof value === "function" || (typeof value === "object" && (value as any)._jsonata_lambda)) {
    throw expressionError(env, source, "the result is a function, not a value");
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_k, v) =>
      typeof v === "function" || v?._jsonata_lambda || v?._jsonata_function ? undefined : v,
    );
  } catch (err) {
    throw expressionError(env, source, `the result is not JSON (${(err as Error).message})`);
  }
  if (text === undefined) return undefined;
  if (text.length > limits.maxResultBytes) {
    throw expressionError(env, source, `the result is larger than ${limits.maxResultBytes} bytes of JSON`);
  }
  return JSON.parse(text);
}

function textOf(v: unknown): string {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * EXPRESSION_ERROR: in workflow code a DirigentError (the run fails); inside a step attempt a
 * TerminalError with that code (the step fails at once: evaluating again gives the same answer).
 */
export function expressionError(env: EvalEnv, source: string, why: string): Error {
  const message = `expression ${source ? `{{${source}}} ` : ""}at ${env.where} failed: ${why}`;
  const details = { where: env.where, expression: source, reason: why };
  if (env.inStep) return new TerminalError(message, { code: "EXPRESSION_ERROR", details });
  return dslError("EXPRESSION_ERROR", message, details);
}
