// Secrets are referenced by name, resolved inside the HTTP attempt, and never written anywhere: the
// journal, history and the database file are searched for the value.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { parseDefinition } from "../../src/dsl/parse.js";
import { combineSecrets, secretsFromEnv, secretsFromFile } from "../../src/dsl/secrets.js";
import type { Harness } from "../helpers/harness.js";
import { at, dslHarness, type RecordingServer, startRecordingServer } from "./helpers.js";

const TOKEN = "tok-7f3a9c2e5b41d8a6";
const KEY = "key-0c9e4b7a2f";

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

function databaseBytes(dbPath: string): string {
  return [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p).toString("latin1"))
    .join("");
}

describe("dsl: secrets", () => {
  it("reach the service but never the journal, history or database, even when echoed back", async () => {
    server.script("/denied", [{ status: 401, body: { error: `token ${TOKEN} is revoked` } }]);
    const secrets = secretsFromEnv({ DIRIGENT_SECRET_API_TOKEN: TOKEN, DIRIGENT_SECRET_API_KEY: KEY });
    h = await dslHarness(
      [
        `name: sec
steps:
  - id: call
    http:
      method: POST
      url: "{{ input.base }}/echo"
      headers: { authorization: "Bearer {{ secrets.API_TOKEN }}" }
      query: { key: "{{ secrets.API_KEY }}" }
      body: { note: "signed with {{ secrets.API_TOKEN }}", order: "{{ input.order }}" }
  - id: denied
    http: { url: "{{ input.base }}/denied", headers: { authorization: "Bearer {{ secrets.API_TOKEN }}" } }
`,
      ],
      {},
      { secrets },
    );
    await h.engine.startRun("sec", at(server, { order: "o-1" }), { runId: "sec-1" });
    const run = await h.engine.waitForFinish("sec-1", 5_000);
    assert.equal(run.status, "failed");
    const [echo] = server.to("/echo");
    assert.equal(echo.headers.authorization, `Bearer ${TOKEN}`, "the service got the real token");
    assert.equal(echo.query.key, KEY);
    assert.deepEqual(echo.body, { note: `signed with ${TOKEN}`, order: "o-1" });

    const journal = await h.store.loadJournal("sec-1");
    const recorded = (journal[0].result as any).body;
    assert.equal(
      recorded.headers.authorization,
      "Bearer [secret API_TOKEN]",
      "the echoed header was redacted",
    );
    assert.equal(recorded.query.key, "[secret API_KEY]");
    assert.match(run.error!.message, /answered 401/);
    const everything = JSON.stringify({ journal, run, history: await h.client.history("sec-1") });
    assert.ok(everything.includes("[secret API_TOKEN]"), "the error body was recorded, redacted");
    for (const secret of [TOKEN, KEY]) {
      assert.ok(!everything.includes(secret), `${secret} in journal/history/run`);
      assert.ok(!databaseBytes(h.dbPath).includes(secret), `${secret} in the database files`);
    }
  });

  it("an unknown secret fails the step at once with SECRET_NOT_FOUND", async () => {
    h = await dslHarness([
      `name: nosec
steps:
  - id: call
    http: { url: "{{ input.base }}/x", headers: { authorization: "{{ secrets.MISSING }}" } }
    retry: { maxAttempts: 5 }
`,
    ]);
    await h.engine.startRun("nosec", at(server), { runId: "nosec-1" });
    const run = await h.engine.waitForFinish("nosec-1", 5_000);
    assert.equal(run.status, "failed");
    assert.equal((run.error!.details as any).cause.code, "SECRET_NOT_FOUND");
    assert.equal(server.to("/x").length, 0);
  });

  it("may not be used where their value would be journaled", () => {
    for (const [where, step] of [
      ["set", `{ id: s, set: { t: "{{ secrets.TOKEN }}" } }`],
      ["task input", `{ id: s, task: { queue: q, input: "{{ secrets.TOKEN }}" } }`],
      ["output", `{ id: s, set: { a: 1 }, output: "{{ secrets.TOKEN }}" }`],
      ["dynamic", `{ id: s, http: { url: "{{ $lookup(secrets, 'TOKEN') }}" } }`],
    ]) {
      assert.throws(
        () => parseDefinition(`name: x\nsteps:\n  - ${step}\n`),
        (err: any) =>
          err.code === "INVALID_DEFINITION" && err.details.line === 3 && /secret/.test(err.message),
        where,
      );
    }
  });

  it("resolve from a JSON file, then the environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "dsl-secrets-"));
    try {
      const file = join(dir, "secrets.json");
      writeFileSync(file, JSON.stringify({ A: "from-file" }));
      const resolve = combineSecrets(
        secretsFromFile(file),
        secretsFromEnv({ DIRIGENT_SECRET_B: "from-env" }),
      );
      assert.equal(resolve("A"), "from-file");
      assert.equal(resolve("B"), "from-env");
      assert.equal(resolve("C"), undefined);
      assert.throws(
        () => secretsFromFile(join(dir, "none.json"))("A"),
        (err: any) => {
          assert.equal(err.code, "SECRET_NOT_FOUND");
          assert.ok(!err.message.includes("from-file"));
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
