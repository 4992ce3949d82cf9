// Generated malformed definitions (fast-check): each is refused with INVALID_DEFINITION located at a
// line and column of the text and naming the broken path; none crashes the parser or gets through.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { formatPath } from "../../src/dsl/errors.js";
import { parseDefinition } from "../../src/dsl/parse.js";

type Path = (string | number)[];

const BASE = {
  name: "fuzz-base",
  input: { type: "object" },
  vars: { region: "eu" },
  defaults: { retry: { maxAttempts: 3 }, timeout: "5s" },
  steps: [
    {
      id: "charge",
      http: {
        method: "POST",
        url: "{{ input.base }}/charges",
        headers: { "x-a": "b" },
        body: { n: "{{ input.n }}" },
      },
      retry: { maxAttempts: 4, initialInterval: "1s", maxInterval: "1m" },
      timeout: "10s",
      compensate: { http: { method: "POST", url: "{{ input.base }}/refunds" } },
    },
    { id: "label", task: { queue: "labels", input: { order: "{{ input.id }}" } } },
    {
      id: "route",
      switch: {
        cases: [{ when: "input.n > 1", steps: [{ id: "big", set: { size: "large" } }] }],
        default: [{ id: "small", set: { size: "small" } }],
      },
    },
    {
      id: "fan",
      parallel: { join: "all", branches: [{ name: "a", steps: [{ id: "pa", wait: { duration: "1s" } }] }] },
    },
    {
      id: "each",
      forEach: { items: "input.list", concurrency: 2, steps: [{ id: "one", set: { x: "{{ item }}" } }] },
    },
    { id: "pause", wait: { until: "2030-01-01T00:00:00Z" } },
    { id: "ok", waitForSignal: { signal: "approval", timeout: "1h", default: false } },
    { id: "sub", subWorkflow: { workflow: "other", input: { a: 1 } } },
    { id: "done", succeed: { output: "{{ vars }}" } },
    { id: "stop", fail: { message: "no {{ input.id }}", code: "NOPE" } },
  ],
  output: { size: "{{ vars.size }}" },
};

/** Strict objects of the base document (unknown keys are refused there), by path. */
const STRICT_OBJECTS: Path[] = [
  [],
  ["defaults"],
  ["defaults", "retry"],
  ...BASE.steps.map((_, i) => ["steps", i]),
  ["steps", 0, "http"],
  ["steps", 0, "retry"],
  ["steps", 0, "compensate"],
  ["steps", 0, "compensate", "http"],
  ["steps", 1, "task"],
  ["steps", 2, "switch"],
  ["steps", 2, "switch", "cases", 0],
  ["steps", 3, "parallel"],
  ["steps", 3, "parallel", "branches", 0],
  ["steps", 4, "forEach"],
  ["steps", 5, "wait"],
  ["steps", 6, "waitForSignal"],
  ["steps", 7, "subWorkflow"],
  ["steps", 8, "succeed"],
  ["steps", 9, "fail"],
  ["steps", 2, "switch", "cases", 0, "steps", 0],
];

/** Typed slots with what a valid value is; a mutation puts an invalid value there. */
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const DURATION = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
const isDuration = (v: unknown) =>
  (Number.isInteger(v) && (v as number) >= 0) || (typeof v === "string" && DURATION.test(v));
const nonEmptyString = (v: unknown) => typeof v === "string" && v.length > 0;
const SLOTS: [Path, (v: unknown) => boolean][] = [
  [["name"], (v) => typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(v)],
  [["steps"], (v) => Array.isArray(v) && v.length > 0],
  [["steps", 0, "id"], (v) => typeof v === "string" && IDENT.test(v)],
  [["steps", 5, "id"], (v) => typeof v === "string" && IDENT.test(v)],
  [["steps", 0, "http", "url"], nonEmptyString],
  [
    ["steps", 0, "http", "method"],
    (v) => ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].includes(v as string),
  ],
  [
    ["steps", 0, "http", "headers"],
    (v) =>
      v !== null &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      Object.values(v).every((x) => typeof x === "string"),
  ],
  [
    ["steps", 0, "retry", "maxAttempts"],
    (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1000,
  ],
  [["steps", 0, "retry", "initialInterval"], isDuration],
  [["steps", 0, "timeout"], isDuration],
  [["defaults", "timeout"], isDuration],
  [
    ["steps", 1, "task", "queue"],
    (v) => typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(v),
  ],
  [["steps", 2, "switch", "cases"], (v) => Array.isArray(v) && v.length > 0],
  [["steps", 2, "switch", "cases", 0, "when"], nonEmptyString],
  [["steps", 3, "parallel", "join"], (v) => v === "all" || v === "first"],
  [["steps", 3, "parallel", "branches"], (v) => Array.isArray(v) && v.length > 0],
  [
    ["steps", 4, "forEach", "concurrency"],
    (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1000,
  ],
  [["steps", 4, "forEach", "items"], nonEmptyString],
  [["steps", 6, "waitForSignal", "timeout"], isDuration],
  [
    ["steps", 7, "subWorkflow", "workflow"],
    (v) => typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(v),
  ],
  [["steps", 9, "fail", "message"], (v) => typeof v === "string" && v.length > 0 && v.length <= 2000],
  [["steps", 9, "fail", "code"], (v) => typeof v === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(v)],
];
/** Strings holding templates (a broken expression is put there). */
const TEMPLATES: Path[] = [
  ["steps", 0, "http", "url"],
  ["steps", 0, "http", "body", "n"],
  ["steps", 1, "task", "input", "order"],
  ["steps", 2, "switch", "cases", 0, "when"],
  ["steps", 4, "forEach", "items"],
  ["steps", 8, "succeed", "output"],
  ["steps", 9, "fail", "message"],
  ["output", "size"],
  ["vars", "region"],
];
const KINDS = [
  "http",
  "task",
  "switch",
  "parallel",
  "forEach",
  "wait",
  "waitForSignal",
  "subWorkflow",
  "set",
  "fail",
  "succeed",
];

const clone = <T>(v: T): T => structuredClone(v);
function getAt(doc: any, path: Path): any {
  return path.reduce((v, k) => v?.[k], doc);
}
function setAt(doc: any, path: Path, value: unknown): void {
  const parent = getAt(doc, path.slice(0, -1));
  parent[path[path.length - 1]] = value;
}
function deleteAt(doc: any, path: Path): void {
  const parent = getAt(doc, path.slice(0, -1));
  delete parent[path[path.length - 1]];
}

/** A malformed document and the path whose problem must be reported (a prefix of an issue's path). */
interface Malformed {
  doc: unknown;
  expectPath: string;
  what: string;
}

const jsonValue = fc.jsonValue({ maxDepth: 2 }).filter((v) => !(typeof v === "string" && v.includes("{{")));

const mutations: fc.Arbitrary<Malformed>[] = [
  // A value of the wrong type or shape in a typed slot.
  fc
    .tuple(fc.constantFrom(...SLOTS), jsonValue)
    .filter(([[, valid], v]) => !valid(v))
    .map(([[path], v]) => {
      const doc = clone(BASE);
      setAt(doc, path, v);
      return { doc, expectPath: formatPath(path), what: `wrong value at ${formatPath(path)}` };
    }),
  // A required key removed.
  fc
    .constantFrom<Path>(
      ["name"],
      ["steps"],
      ["steps", 0, "id"],
      ["steps", 0, "http", "url"],
      ["steps", 1, "task", "queue"],
      ["steps", 2, "switch", "cases"],
      ["steps", 3, "parallel", "branches"],
      ["steps", 4, "forEach", "items"],
      ["steps", 9, "fail", "message"],
      ["steps", 2, "switch", "cases", 0, "when"],
    )
    .map((path) => {
      const doc = clone(BASE);
      deleteAt(doc, path);
      return { doc, expectPath: formatPath(path.slice(0, -1)), what: `missing ${formatPath(path)}` };
    }),
  // An unknown key in a strict mapping.
  fc
    .tuple(fc.constantFrom(...STRICT_OBJECTS), fc.string({ minLength: 1, maxLength: 12 }), jsonValue)
    .filter(
      ([path, key]) =>
        !(key in getAt(BASE, path)) &&
        !KINDS.includes(key) &&
        ![
          "id",
          "name",
          "description",
          "output",
          "retry",
          "timeout",
          "compensate",
          "steps",
          "when",
          "default",
          "branches",
          "join",
          "items",
          "as",
          "concurrency",
          "signal",
          "duration",
          "until",
          "input",
          "workflow",
          "message",
          "code",
          "details",
          "$schema",
          "vars",
          "defaults",
          "onFailure",
          "method",
          "url",
          "headers",
          "query",
          "body",
          "successStatus",
          "queue",
          "priority",
          "heartbeatTimeout",
          "scheduleToStartTimeout",
          "cases",
          "maxAttempts",
          "initialInterval",
          "maxInterval",
          "backoffCoefficient",
          "jitter",
        ].includes(key),
    )
    .map(([path, key, v]) => {
      const doc = clone(BASE);
      getAt(doc, path)[key] = v;
      return {
        doc,
        expectPath: formatPath([...path, key]),
        what: `unknown key ${key} at ${formatPath(path)}`,
      };
    }),
  // A step without a kind, or with a second one.
  fc
    .tuple(fc.integer({ min: 0, max: BASE.steps.length - 1 }), fc.boolean(), fc.constantFrom(...KINDS))
    .map(([i, remove, extra]) => {
      const doc = clone(BASE) as any;
      const step = doc.steps[i];
      const kind = KINDS.find((k) => k in step)!;
      if (remove || extra === kind) delete step[kind];
      else step[extra] = {};
      return { doc, expectPath: `steps[${i}]`, what: `kinds of step ${i}` };
    }),
  // A step id used twice.
  fc
    .tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 9 }))
    .filter(([a, b]) => a !== b)
    .map(([a, b]) => {
      const doc = clone(BASE) as any;
      doc.steps[b].id = doc.steps[a].id;
      return { doc, expectPath: `steps[${Math.max(a, b)}].id`, what: "duplicate id" };
    }),
  // An expression that does not parse.
  fc
    .tuple(
      fc.constantFrom(...TEMPLATES),
      fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/),
      fc.constantFrom("+", "(", "[", "and", "=", "{", ".."),
    )
    .map(([path, word, junk]) => {
      const doc = clone(BASE);
      const when = path.includes("when") || path.includes("items");
      setAt(doc, path, when ? `${word} ${junk}` : `x {{ ${word} ${junk} }} y`);
      return { doc, expectPath: formatPath(path), what: `broken expression at ${formatPath(path)}` };
    }),
  // Not a mapping at all.
  fc
    .jsonValue({ maxDepth: 2 })
    .filter((v) => v === null || typeof v !== "object" || Array.isArray(v))
    .map((doc) => ({ doc, expectPath: "", what: "not a mapping" })),
];

describe("dsl: generated malformed definitions", () => {
  it("start from a valid definition, in YAML and JSON", () => {
    assert.equal(parseDefinition(stringify(BASE), { file: "base.yaml" }).doc.steps.length, 10);
    assert.equal(parseDefinition(JSON.stringify(BASE), { file: "base.json" }).format, "json");
  });

  it("are all refused with a located INVALID_DEFINITION, in YAML and JSON (1,500 cases)", () => {
    let yamlCount = 0;
    let cases = 0;
    fc.assert(
      fc.property(fc.oneof(...mutations), fc.boolean(), (m, asJson) => {
        const text = asJson ? JSON.stringify(m.doc, null, 2) : stringify(m.doc);
        if (!asJson) yamlCount++;
        cases++;
        const file = asJson ? "gen.json" : "gen.yaml";
        let refused: any;
        try {
          parseDefinition(text, { file });
        } catch (err) {
          refused = err;
        }
        assert.ok(refused, `accepted: ${m.what}\n${text}`);
        assert.equal(refused.code, "INVALID_DEFINITION", `${m.what}: ${refused.stack}`);
        const d = refused.details;
        const lines = text.split("\n").length;
        assert.equal(d.file, file);
        assert.ok(
          Number.isInteger(d.line) && d.line >= 1 && d.line <= lines + 1,
          `line ${d.line} of ${lines}`,
        );
        assert.ok(Number.isInteger(d.column) && d.column >= 1, `column ${d.column}`);
        assert.ok(typeof d.expected === "string" && d.expected.length > 0);
        assert.ok(
          d.issues.some((i: any) => i.path.startsWith(m.expectPath)),
          `${m.what}: no issue at ${m.expectPath}: ${JSON.stringify(d.issues.map((i: any) => i.path))}`,
        );
      }),
      { numRuns: 1_500, seed: 20_260_101 },
    );
    assert.ok(cases >= 1_500, `${cases} cases`);
    assert.ok(yamlCount > 500 && cases - yamlCount > 500, "both formats were exercised");
  });

  it("never crashes on arbitrary or truncated text: a definition or a located refusal", () => {
    const valid = stringify(BASE);
    const texts = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.integer({ min: 0, max: valid.length }).map((n) => valid.slice(0, n)),
      fc
        .tuple(fc.integer({ min: 0, max: valid.length }), fc.string({ minLength: 1, maxLength: 5 }))
        .map(([at, s]) => valid.slice(0, at) + s + valid.slice(at)),
      fc.constantFrom(
        "[".repeat(5_000),
        "a: &a [1]\nb: *a\n",
        "{{{{",
        "\t\tname: x",
        "%YAML 9.9\n---\nname: x",
      ),
    );
    fc.assert(
      fc.property(texts, (text) => {
        try {
          parseDefinition(text, { file: "t.yaml" });
        } catch (err: any) {
          assert.equal(err.code, "INVALID_DEFINITION", err.stack);
          assert.ok(err.details.line >= 1 && err.details.column >= 1);
        }
      }),
      { numRuns: 600, seed: 7 },
    );
  });
});
