import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { DirigentClient } from "../../src/client/client.js";
import { HttpClient } from "../../src/client/http-client.js";
import { TerminalError } from "../../src/core/errors.js";
import type { Engine } from "../../src/runtime/engine.js";
import { workflow } from "../../src/runtime/workflow.js";
import { buildServer } from "../../src/server/app.js";
import { Raw, type ServerFixture, serverFixture } from "./helpers.js";

let failuresLeft = 0;
const flaky = workflow("flaky", async (ctx) => {
  const before = await ctx.step("before", () => "kept");
  const after = await ctx.step("flaky", () => {
    if (failuresLeft > 0) {
      failuresLeft--;
      throw new TerminalError("not yet");
    }
    return "done";
  });
  return { before, after };
});

async function serve(client: DirigentClient, engine: Engine) {
  const app = buildServer({ client, engine });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const http = new HttpClient({ address: url });
  const raw = new Raw(url);
  return {
    http,
    raw,
    async close() {
      await http.close();
      await raw.close();
      await app.close();
    },
  };
}

let f: ServerFixture;
before(async () => {
  f = await serverFixture({ workflows: [flaky] });
});
after(async () => {
  await f.close();
});

test("POST /runs/:id/retry resumes a failed run from its failed step", async () => {
  const s = await serve(f.server.client, f.server.engine);
  try {
    failuresLeft = 1;
    const { runId } = await s.http.start("flaky");
    assert.equal((await s.http.result(runId)).status, "failed");
    const res = await s.raw.send("POST", `/api/v1/runs/${runId}/retry`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { runId });
    const run = await s.http.result(runId, { timeoutMs: 10_000 });
    assert.equal(run.status, "completed");
    assert.deepEqual(run.output, { before: "kept", after: "done" });
    const again = await s.raw.send("POST", `/api/v1/runs/${runId}/retry`);
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "RUN_NOT_RETRYABLE");
    const missing = await s.raw.send("POST", "/api/v1/runs/nope/retry");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "RUN_NOT_FOUND");
  } finally {
    await s.close();
  }
});
