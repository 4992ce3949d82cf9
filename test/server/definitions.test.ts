import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ServerFixture, serverFixture } from "./helpers.js";

const V1 = `name: greet
steps:
  - id: hello
    set: { greeting: "{{ 'hello ' & input.who }}" }
output: "{{ vars.greeting }}"
`;

let f: ServerFixture;
before(async () => {
  f = await serverFixture();
});
after(async () => {
  await f.close();
});
const raw = {
  send: (method: string, path: string, json?: unknown) =>
    f.raw.send(method, path, json === undefined ? {} : { json }),
};

describe("definitions API", () => {
  it("deploys a YAML definition, serves it with its graph, and runs it", async () => {
    const first = await raw.send("POST", "/api/v1/definitions", { source: V1, file: "greet.yaml" });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.json.name, "greet");
    assert.equal(first.json.version, 1);
    assert.ok(first.json.graph.nodes.some((n: { id: string }) => n.id === "hello"));
    const again = await raw.send("POST", "/api/v1/definitions", { source: V1 });
    assert.equal(again.status, 200);
    assert.equal(again.json.created, false);
    const list = await raw.send("GET", "/api/v1/definitions");
    assert.deepEqual(
      list.json.definitions.map((d: { name: string; version: number }) => [d.name, d.version]),
      [["greet", 1]],
    );
    const one = await raw.send("GET", "/api/v1/definitions/greet?version=1");
    assert.equal(one.json.source, V1);
    const graph = await raw.send("GET", "/api/v1/workflows/greet/graph");
    assert.equal(graph.status, 200);
    assert.equal(graph.json.name, "greet");
    const { runId } = await f.server.client.start("greet", { who: "world" });
    const run = await f.server.client.result(runId, { timeoutMs: 10_000 });
    assert.equal(run.status, "completed", JSON.stringify(run.error));
  });

  it("refuses an invalid definition with its location, and unknown names with 404", async () => {
    const bad = await raw.send("POST", "/api/v1/definitions", {
      source: "name: x\nsteps:\n  - id: a\n    http: 5\n",
      file: "x.yaml",
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, "INVALID_DEFINITION");
    assert.equal(bad.json.details.file, "x.yaml");
    assert.equal(typeof bad.json.details.line, "number");
    const missing = await raw.send("GET", "/api/v1/definitions/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "DEFINITION_NOT_FOUND");
    const noGraph = await raw.send("GET", "/api/v1/workflows/nope/graph");
    assert.equal(noGraph.status, 404);
  });
});

describe("dirigent workflow deploy", () => {
  it("deploys a file through the server and reports a located error for a bad one", async () => {
    const { runCli } = await import("../fixtures/cli-run.js");
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "dirigent-deploy-"));
    writeFileSync(join(dir, "greet2.yaml"), V1.replace("name: greet", "name: greet2"));
    writeFileSync(join(dir, "bad.yaml"), "name: bad\nsteps:\n  - id: a\n    http: 5\n");
    const ok = await runCli(["--address", f.server.url, "-o", "json", "workflow", "deploy", "greet2.yaml"], {
      cwd: dir,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { name: "greet2", version: 1, created: true, steps: 3 });
    const bad = await runCli(["--address", f.server.url, "workflow", "deploy", "bad.yaml"], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_DEFINITION: bad\.yaml:4:11/);
  });
});
