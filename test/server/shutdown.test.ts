import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { HttpClient } from "../../src/client/http-client.js";
import { workflow } from "../../src/runtime/workflow.js";
import { startServer } from "../../src/server/start.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { eventually, Raw, serverFixture } from "./helpers.js";

async function readRun(dbPath: string, runId: string) {
  const store = new SqliteStore({ path: dbPath });
  try {
    return await store.getRun(runId);
  } finally {
    await store.close();
  }
}

/** Resolves once a request whose URL contains `part` reaches the server. */
function requestArrives(server: import("node:http").Server, part: string): Promise<void> {
  return new Promise((resolve) => {
    const onRequest = (req: { url?: string }) => {
      if (req.url?.includes(part)) {
        server.off("request", onRequest);
        resolve();
      }
    };
    server.on("request", onRequest);
  });
}

test("during shutdown readyz is 503, long-polls answer, new starts are refused, and the in-flight step finishes", async () => {
  const f = await serverFixture({ shutdownGraceMs: 20_000 });
  try {
    const { runId } = await f.http.start("hold", null, { runId: "held-1" });
    await f.hold.entered;
    const arrived = requestArrives(f.server.app.server, "/held-1/result");
    const poll = f.raw.get(`/api/v1/runs/${runId}/result?timeoutMs=60000`);
    await arrived;

    const closing = f.server.close();
    const ready = await f.raw.get("/readyz");
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json, { ready: false, reason: "draining" });
    const polled = await poll;
    assert.equal(polled.status, 200, "the long-poll answered instead of holding up the shutdown");
    assert.equal(polled.json.status, "running");
    const refused = await f.raw.post("/api/v1/workflows/echo/runs", { input: 1 });
    assert.equal(refused.status, 503);
    assert.equal(refused.json.code, "ENGINE_STOPPED");
    assert.equal((await f.raw.get("/healthz")).status, 200, "still alive while draining");

    f.hold.gate.open();
    await closing;
    const run = await readRun(f.dbPath, runId);
    assert.equal(run?.status, "completed");
    assert.equal(run?.output, "released");
  } finally {
    await f.close();
  }
});

test("a step still running at the grace deadline has its lease released; the next server finishes the run", async () => {
  const f = await serverFixture({ shutdownGraceMs: 50 });
  try {
    const { runId } = await f.http.start("hold", null, { runId: "held-2" });
    await f.hold.entered;
    await f.server.close();
    const released = await readRun(f.dbPath, runId);
    assert.equal(released?.owner, undefined, "lease released");
    assert.equal(released?.status === "completed", false);

    const next = await startServer({
      databaseUrl: `sqlite:${f.dbPath}`,
      port: 0,
      handleSignals: false,
      workflows: [workflow("hold", async (ctx) => ctx.step("held", async () => "second node"))],
    });
    const client = new HttpClient({ address: next.url });
    try {
      const run = await client.result(runId, { timeoutMs: 10_000 });
      assert.equal(run.status, "completed");
      assert.equal(run.output, "second node");
    } finally {
      await client.close();
      await next.close();
    }
  } finally {
    await f.close();
  }
});

test("SIGTERM: readyz turns 503, the in-flight step finishes, the process exits 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "dirigent-sigterm-"));
  const dbPath = join(dir, "node.db");
  const releasePath = join(dir, "release");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", new URL("./fixtures/server-node.ts", import.meta.url).pathname, dbPath, releasePath],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const events: { event: string; url?: string }[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      // not one of the fixture's lines
    }
  });
  let client: HttpClient | undefined;
  let raw: Raw | undefined;
  try {
    await eventually(() => events.some((e) => e.event === "listening"), "the server to listen", 20_000);
    const url = events.find((e) => e.event === "listening")!.url!;
    client = new HttpClient({ address: url });
    raw = new Raw(url);
    const { runId } = await client.start("hold-file");
    await eventually(() => events.some((e) => e.event === "entered"), "the step to start");

    child.kill("SIGTERM");
    await eventually(async () => (await raw!.get("/readyz")).status === 503, "readyz to turn 503");
    writeFileSync(releasePath, "go");
    assert.equal(await exited, 0, stderr);
    const run = await readRun(dbPath, runId);
    assert.equal(run?.status, "completed");
    assert.equal(run?.output, "released");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    await client?.close();
    await raw?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
