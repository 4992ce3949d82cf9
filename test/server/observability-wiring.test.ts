import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ServerFixture, serverFixture } from "./helpers.js";

let f: ServerFixture;
before(async () => {
  f = await serverFixture();
});
after(() => f.close());

describe("observability on the server", () => {
  it("serves Prometheus metrics that count the runs it executed", async () => {
    const { runId } = await f.http.start("echo", { hello: "metrics" });
    assert.equal((await f.http.result(runId, { timeoutMs: 10_000 })).status, "completed");
    const res = await f.raw.send("GET", "/metrics");
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /text\/plain/);
    const line = res.text
      .split("\n")
      .find((l) => l.startsWith("dirigent_runs_finished_total") && l.includes('workflow="echo"'));
    assert.ok(line, `no dirigent_runs_finished_total line for echo in:\n${res.text.slice(0, 2_000)}`);
    assert.ok(Number(line.split(" ").pop()) >= 1);
    assert.ok(!res.text.includes(runId), "a run id never appears in metrics");
  });

  it("lists alerts (none configured: empty lists)", async () => {
    const res = await f.raw.send("GET", "/api/v1/alerts");
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { rules: [], active: [], recent: [] });
  });
});
