import { z } from "zod";
import { toMs } from "../core/duration.js";
import {
  compileCondition,
  compileTemplate,
  type Expr,
  ExpressionSyntaxError,
  expressionsOf,
} from "./expressions.js";
import { type DslDocument, type DslRetry, type DslStep, stepKind, TEMPLATE_TEXT } from "./schema.js";

type Path = (string | number)[];

export interface CheckProblem {
  path: Path;
  message: string;
  expected: string;
}

/** Names the expression context already uses: a forEach `as` may not hide them. */
const RESERVED = new Set(["input", "vars", "steps", "secrets", "result", "error", "index"]);

/**
 * The checks a schema cannot express: unique step ids, expressions that parse, secrets used only where
 * they cannot reach the journal (http requests), a usable input JSON Schema, sane retry intervals.
 */
export function checkDefinition(doc: DslDocument): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const ids = new Map<string, Path>();
  const problem = (path: Path, message: string, expected: string) =>
    problems.push({ path, message, expected });

  const template = (value: unknown, path: Path, secretsAllowed = false) => {
    if (value === undefined) return;
    // Report the exact string that fails: walk the value alongside its compiled form.
    walkStrings(value, path, (text, at) => {
      let exprs: Expr[];
      try {
        exprs = expressionsOf(compileTemplate(text));
      } catch (err) {
        problem(at, syntaxMessage(err), "a valid {{ JSONata }} template");
        return;
      }
      secretsUse(exprs, at, secretsAllowed);
    });
  };
  const condition = (text: string, path: Path) => {
    try {
      secretsUse([compileCondition(text)], path, false);
    } catch (err) {
      problem(path, syntaxMessage(err), "a valid JSONata expression");
    }
  };
  const secretsUse = (exprs: Expr[], path: Path, allowed: boolean) => {
    for (const e of exprs) {
      if (e.badSecretUse) {
        problem(
          path,
          "secrets used other than as secrets.NAME",
          "secrets referenced one by one as secrets.NAME",
        );
      } else if (e.secrets.length > 0 && !allowed) {
        problem(
          path,
          `secret ${e.secrets[0]} used outside an http request`,
          "secrets only in an http step's url, headers, query or body (they must never reach the journal)",
        );
      }
    }
  };
  const retry = (r: DslRetry | undefined, path: Path) => {
    if (!r || r.initialInterval === undefined || r.maxInterval === undefined) return;
    if (toMs(r.maxInterval) < toMs(r.initialInterval)) {
      problem(
        [...path, "maxInterval"],
        "maxInterval is shorter than initialInterval",
        "maxInterval >= initialInterval",
      );
    }
  };
  const steps = (list: DslStep[] | undefined, path: Path) => {
    for (const [i, s] of (list ?? []).entries()) step(s, [...path, i]);
  };
  const step = (s: DslStep, path: Path) => {
    const seen = ids.get(s.id);
    if (seen)
      problem(
        [...path, "id"],
        `step id "${s.id}" is used twice`,
        `an id not used elsewhere (also at ${fmt(seen)})`,
      );
    else ids.set(s.id, path);
    template(s.output, [...path, "output"]);
    const kind = stepKind(s);
    const at = [...path, kind];
    const x = s as any;
    switch (kind) {
      case "http":
      case "task": {
        retry(x.retry, [...path, "retry"]);
        callTemplates(kind, x[kind], at);
        if (x.compensate) {
          const c = x.compensate;
          const ck = "http" in c ? "http" : "task";
          callTemplates(ck, c[ck], [...path, "compensate", ck]);
        }
        break;
      }
      case "switch":
        x.switch.cases.forEach((c: { when: string; steps: DslStep[] }, i: number) => {
          condition(c.when, [...at, "cases", i, "when"]);
          steps(c.steps, [...at, "cases", i, "steps"]);
        });
        steps(x.switch.default, [...at, "default"]);
        break;
      case "parallel":
        for (const [i, b] of (x.parallel.branches as { steps: DslStep[] }[]).entries()) {
          steps(b.steps, [...at, "branches", i, "steps"]);
        }
        break;
      case "forEach":
        condition(x.forEach.items, [...at, "items"]);
        if (x.forEach.as && RESERVED.has(x.forEach.as)) {
          problem(
            [...at, "as"],
            `"${x.forEach.as}" is a name the context already uses`,
            "a name other than " + [...RESERVED].join(", "),
          );
        }
        steps(x.forEach.steps, [...at, "steps"]);
        break;
      case "wait": {
        const w = x.wait;
        if ("duration" in w) template(w.duration, [...at, "duration"]);
        else if (
          typeof w.until === "string" &&
          !TEMPLATE_TEXT.test(w.until) &&
          Number.isNaN(Date.parse(w.until))
        ) {
          problem(
            [...at, "until"],
            `"${w.until}" is not a time`,
            "an ISO 8601 time, epoch milliseconds, or a template",
          );
        } else template(w.until, [...at, "until"]);
        break;
      }
      case "waitForSignal":
        template(x.waitForSignal.default, [...at, "default"]);
        break;
      case "subWorkflow":
        template(x.subWorkflow.input, [...at, "input"]);
        break;
      case "set":
        for (const [k, v] of Object.entries(x.set)) template(v, [...at, k]);
        break;
      case "fail":
        template(x.fail.message, [...at, "message"]);
        template(x.fail.details, [...at, "details"]);
        break;
      case "succeed":
        template(x.succeed.output, [...at, "output"]);
        break;
    }
  };
  const callTemplates = (kind: "http" | "task", spec: any, path: Path) => {
    if (kind === "http") {
      for (const key of ["url", "headers", "query", "body"]) template(spec[key], [...path, key], true);
    } else template(spec.input, [...path, "input"]);
  };

  if (doc.input !== undefined) {
    try {
      z.fromJSONSchema(doc.input as any);
    } catch (err) {
      problem(
        ["input"],
        `not a usable JSON Schema: ${(err as Error).message}`,
        "a JSON Schema (draft 2020-12 or 7)",
      );
    }
  }
  for (const [k, v] of Object.entries(doc.vars ?? {})) template(v, ["vars", k]);
  retry(doc.defaults?.retry, ["defaults", "retry"]);
  steps(doc.steps, ["steps"]);
  steps(doc.onFailure, ["onFailure"]);
  template(doc.output, ["output"]);
  return problems;
}

function walkStrings(value: unknown, path: Path, fn: (text: string, path: Path) => void): void {
  if (typeof value === "string") fn(value, path);
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walkStrings(v, [...path, i], fn);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) walkStrings(v, [...path, k], fn);
  }
}

function syntaxMessage(err: unknown): string {
  if (err instanceof ExpressionSyntaxError) {
    const where = err.position !== undefined ? ` at character ${err.position}` : "";
    return `the expression does not parse${where}: ${err.message}`;
  }
  return `the expression does not parse: ${(err as Error)?.message ?? String(err)}`;
}

function fmt(path: Path): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`))
    .join("")
    .replace(/^\./, "");
}
