// Versioned definitions: deploying a new version leaves running runs on the version they started with,
// across a restart too; the same text deploys once; an invalid definition is never stored.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { deployDefinition, getDefinition, listDefinitions, loadDefinitions } from "../../src/dsl/registry.js";
import { type Harness, harness, untilStatus } from "../helpers/harness.js";
import { at, type RecordingServer, startRecordingServer } from "./helpers.js";

let server: RecordingServer;
let h: Harness | undefined;
before(async () => {
  server = await startRecordingServer();
});
after(() => server.close());
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const v1 = `name: versioned
steps:
  - { id: first, http: { url: "{{ input.base }}/v1/first" } }
  - { id: hold, waitForSignal: { signal: go } }
  - { id: last, http: { url: "{{ input.base }}/v1/last" } }
output: v1
`;
// v2 reorders and renames: replaying a v1 run with it would be a nondeterminism error.
const v2 = `name: versioned
steps:
  - { id: hold, waitForSignal: { signal: go } }
  - { id: only, http: { url: "{{ input.base }}/v2/only" } }
output: v2
`;

describe("dsl: versions", () => {
  it("a run started on v1 finishes on v1 after v2 is deployed, also after a restart", async () => {
    h = await harness([], { maxCachedRuns: 0 });
    const d1 = await deployDefinition(h.engine, v1, { file: "versioned.yaml" });
    assert.deepEqual([d1.version, d1.created], [1, true]);
    await h.engine.startRun("versioned", at(server), { runId: "old" });
    await untilStatus(h, "old", "waiting");

    const d2 = await deployDefinition(h.engine, v2, { file: "versioned.yaml" });
    assert.deepEqual([d2.version, d2.created], [2, true]);
    const started = await h.engine.startRun("versioned", at(server), { runId: "new" });
    assert.equal(started.version, "2");
    await untilStatus(h, "new", "waiting");

    // A fresh engine knows only what the store holds.
    await h.restart([]);
    const loaded = await loadDefinitions(h.engine);
    assert.deepEqual(loaded.loaded, [
      { name: "versioned", version: 1 },
      { name: "versioned", version: 2 },
    ]);
    await h.engine.signal("old", "go");
    await h.engine.signal("new", "go");
    const old = await h.engine.waitForFinish("old", 5_000);
    const fresh = await h.engine.waitForFinish("new", 5_000);
    assert.deepEqual([old.version, old.status, old.output], ["1", "completed", "v1"]);
    assert.deepEqual([fresh.version, fresh.status, fresh.output], ["2", "completed", "v2"]);
    assert.equal(server.to("/v1/first").length, 1);
    assert.equal(server.to("/v1/last").length, 1);
    assert.equal(server.to("/v2/only").length, 1);
    assert.deepEqual(h.errors, []);
  });

  it("deploying the same text again keeps the version; an invalid definition is not stored", async () => {
    h = await harness([]);
    const a = await deployDefinition(h.engine, v1);
    const b = await deployDefinition(h.engine, v1);
    assert.deepEqual([b.version, b.created], [a.version, false]);
    await assert.rejects(
      deployDefinition(h.engine, `${v1}bogus: true\n`, { file: "bad.yaml" }),
      (err: any) => {
        assert.equal(err.code, "INVALID_DEFINITION");
        assert.deepEqual(
          [err.details.file, err.details.line, err.details.column, err.details.path],
          ["bad.yaml", 7, 1, "bogus"],
        );
        return true;
      },
    );
    const list = await listDefinitions(h.store);
    assert.deepEqual(
      list.map((d) => [d.name, d.version, d.format]),
      [["versioned", 1, "yaml"]],
    );
    const def = await getDefinition(h.store, "versioned");
    assert.equal(def.source, v1);
    assert.ok(def.graph.nodes.some((n) => n.id === "hold" && n.kind === "waitForSignal"));
    await assert.rejects(getDefinition(h.store, "versioned", 9), { code: "DEFINITION_NOT_FOUND" });
    assert.deepEqual(h.engine.registry.list().find((w) => w.name === "versioned")?.versions, ["1"]);
  });

  it("deploys JSON definitions too", async () => {
    h = await harness([]);
    const json = JSON.stringify({
      name: "from-json",
      steps: [{ id: "s", set: { x: "{{ input.x + 1 }}" } }],
      output: "{{ vars.x }}",
    });
    const d = await deployDefinition(h.engine, json, { file: "from-json.json" });
    assert.equal((await h.store.getDefinition("from-json"))?.format, "json");
    await h.engine.startRun(d.name, { x: 41 }, { runId: "j1" });
    assert.equal((await h.engine.waitForFinish("j1", 5_000)).output, 42);
  });
});
