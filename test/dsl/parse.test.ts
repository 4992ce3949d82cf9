// Validation of definitions: every refusal names the file, line, column and path and says what was
// expected; the published JSON Schema is the one generated from the zod schemas; the example parses.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { definitionGraph } from "../../src/dsl/graph.js";
import { parseDefinition } from "../../src/dsl/parse.js";
import { dslJsonSchema } from "../../src/dsl/schema.js";

const SCHEMA_FILE = new URL("../../docs/dsl.schema.json", import.meta.url);
const EXAMPLE = new URL("../../examples/order/place-order.yaml", import.meta.url);

function refusal(source: string, file = "flow.yaml") {
  try {
    parseDefinition(source, { file });
  } catch (err: any) {
    assert.equal(err.code, "INVALID_DEFINITION", err.stack);
    return err.details as { file: string; line: number; column: number; path: string; expected: string };
  }
  assert.fail("the definition was accepted");
}

describe("dsl parse and validate", () => {
  const cases: [string, string, Partial<ReturnType<typeof refusal>> & { match?: RegExp }][] = [
    [
      "a step without a kind",
      "name: demo\nsteps:\n  - id: a\n    htp: { url: x }\n",
      { line: 3, column: 5, path: "steps[0]", match: /exactly one of the keys http, task/ },
    ],
    [
      "a step with two kinds",
      "name: demo\nsteps:\n  - id: a\n    set: { x: 1 }\n    wait: { duration: 1s }\n",
      { line: 3, column: 5, path: "steps[0]", match: /exactly one/ },
    ],
    [
      "a wrong type",
      "name: demo\nsteps:\n  - id: a\n    http:\n      url: 3\n",
      { line: 5, column: 12, path: "steps[0].http.url", expected: "a string" },
    ],
    [
      "an unknown key, pointing at the key",
      "name: demo\nsteps:\n  - id: a\n    http:\n      url: x\n      methd: GET\n",
      {
        line: 6,
        column: 7,
        path: "steps[0].http.methd",
        match: /method, url, headers, query, body, successStatus/,
      },
    ],
    [
      "a missing required key, at its mapping",
      "name: demo\nsteps:\n  - id: a\n    http: { method: GET }\n",
      { line: 4, column: 11, path: "steps[0].http", match: /at key "url"/ },
    ],
    [
      "a bad enum value",
      "name: demo\nsteps:\n  - id: a\n    http: { url: x, method: FETCH }\n",
      { line: 4, column: 29, path: "steps[0].http.method", match: /"GET", "POST"/ },
    ],
    [
      "a bad duration",
      "name: demo\nsteps:\n  - id: a\n    wait: { duration: 10 years }\n",
      { line: 4, column: 23, path: "steps[0].wait.duration", match: /duration/ },
    ],
    [
      "a duplicate step id, deep in a switch",
      "name: demo\nsteps:\n  - id: a\n    set: { x: 1 }\n  - id: b\n    switch:\n      cases:\n        - when: vars.x = 1\n          steps:\n            - id: a\n              set: { y: 2 }\n",
      { line: 10, column: 19, path: "steps[1].switch.cases[0].steps[0].id", match: /also at steps\[0\]/ },
    ],
    [
      "an expression that does not parse",
      'name: demo\nsteps:\n  - id: a\n    set:\n      total: "{{ input.a + }}"\n',
      { line: 5, column: 14, path: "steps[0].set.total", match: /JSONata/ },
    ],
    [
      "a YAML syntax error",
      "name: demo\nsteps:\n  - id: a\n   set: x\n",
      { line: 4, column: 1, path: "", match: /YAML/ },
    ],
    [
      "a duplicate key",
      "name: demo\nname: again\nsteps: []\n",
      { line: 2, column: 1, match: /each key once/ },
    ],
    [
      "an invalid step id",
      "name: demo\nsteps:\n  - id: 2fast\n    set: { x: 1 }\n",
      { line: 3, column: 9, path: "steps[0].id", match: /identifier/ },
    ],
    [
      "retry intervals the wrong way round",
      "name: demo\nsteps:\n  - id: a\n    http: { url: x }\n    retry: { initialInterval: 1m, maxInterval: 1s }\n",
      { line: 5, column: 48, path: "steps[0].retry.maxInterval" },
    ],
    ["an empty document", "", { line: 1, column: 1, match: /mapping/ }],
    ["a list, not a mapping", "- a\n- b\n", { line: 1, column: 1, match: /mapping/ }],
    [
      "a missing name and no steps",
      "steps: []\n",
      { line: 1, column: 1, path: "", match: /"name"|at least 1/ },
    ],
    [
      "an input schema zod cannot use",
      "name: demo\ninput: { type: 42 }\nsteps: [{ id: a, set: { x: 1 } }]\n",
      { line: 2, column: 8, path: "input", match: /JSON Schema/ },
    ],
    [
      "a forEach variable that hides the context",
      "name: demo\nsteps:\n  - id: a\n    forEach: { items: input.list, as: steps, steps: [{ id: b, set: { x: 1 } }] }\n",
      { line: 4, column: 39, path: "steps[0].forEach.as" },
    ],
  ];
  for (const [what, source, want] of cases) {
    it(`locates ${what}`, () => {
      const got = refusal(source);
      assert.equal(got.file, "flow.yaml");
      const { match, ...exact } = want;
      for (const [k, v] of Object.entries(exact))
        assert.equal((got as any)[k], v, `${k} of ${JSON.stringify(got)}`);
      if (match) assert.match(`${got.expected}`, match);
      assert.ok(got.expected.length > 0);
    });
  }

  it("locates errors in JSON definitions, syntax included", () => {
    const bad = refusal(
      '{\n  "name": "demo",\n  "steps": [\n    {"id": "a", "set": {"x": 1}},\n  ]\n}\n',
      "flow.json",
    );
    assert.deepEqual([bad.file, bad.line, bad.column], ["flow.json", 5, 3]);
    const wrong = refusal(
      '{\n  "name": "demo",\n  "steps": [{"id": "a", "wait": {"duration": true}}]\n}\n',
      "flow.json",
    );
    assert.deepEqual([wrong.line, wrong.column, wrong.path], [3, 46, "steps[0].wait.duration"]);
  });

  it("the message reads file:line:column: path: what; expected what", () => {
    assert.throws(
      () => parseDefinition("name: demo\nsteps:\n  - id: a\n    http: { url: 3 }\n", { file: "x.yaml" }),
      { message: "x.yaml:4:18: steps[0].http.url: got number 3; expected a string" },
    );
  });

  it("accepts the order example and draws its graph", () => {
    const source = readFileSync(EXAMPLE, "utf8");
    const { doc, format } = parseDefinition(source, { file: "place-order.yaml" });
    assert.equal(format, "yaml");
    assert.equal(doc.name, "place-order-dsl");
    const g = definitionGraph(doc);
    const ids = g.nodes.map((n) => n.id);
    for (const id of [
      "start",
      "approval",
      "approve",
      "rejected",
      "charge",
      "charge:compensate",
      "ship",
      "confirm",
      "end",
    ]) {
      assert.ok(ids.includes(id), `node ${id}`);
    }
    const has = (from: string, to: string, label?: string) =>
      g.edges.some((e) => e.from === from && e.to === to && (label === undefined || e.label === label));
    assert.ok(has("start", "approval"));
    assert.ok(has("approval", "approve", "input.amount > 1000"));
    assert.ok(has("approval", "approval:join", "default"));
    assert.ok(has("approval:join", "charge"));
    assert.ok(has("charge", "charge:compensate", "compensate"));
    assert.ok(has("charge", "ship") && has("ship", "confirm") && has("confirm", "end"));
    assert.ok(!g.edges.some((e) => e.from === "rejected"), "fail ends its path");
    for (const e of g.edges) assert.ok(ids.includes(e.from) && ids.includes(e.to), `edge ${e.from}→${e.to}`);
  });

  it("docs/dsl.schema.json is the schema generated from src/dsl/schema.ts", () => {
    const generated = `${JSON.stringify(dslJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_DSL_SCHEMA === "1") writeFileSync(SCHEMA_FILE, generated);
    assert.equal(
      readFileSync(SCHEMA_FILE, "utf8"),
      generated,
      "docs/dsl.schema.json is stale: run UPDATE_DSL_SCHEMA=1 node --import tsx --test test/dsl/parse.test.ts",
    );
    const schema = JSON.parse(generated);
    assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
    assert.ok(schema.definitions.Step.anyOf.length === 11, "one schema per step kind");
  });
});
