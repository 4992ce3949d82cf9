import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { DirigentError, isDirigentError } from "../../src/core/errors.js";
import { eventually, type ServerFixture, serverFixture } from "./helpers.js";

let f: ServerFixture;
before(async () => {
  f = await serverFixture();
});
after(async () => {
  await f.close();
});

/** Assert that `promise` rejects with a DirigentError of `code`; returns it for further checks. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<DirigentError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isDirigentError(error), `expected a DirigentError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

describe("workflows", () => {
  test("GET /workflows lists the registered definitions", async () => {
    const res = await f.raw.get("/api/v1/workflows");
    assert.equal(res.status, 200);
    const names = res.json.workflows.map((w: { name: string }) => w.name);
    assert.deepEqual(names, ["echo", "fails", "hold", "task", "typed", "waiter"]);
    assert.deepEqual(res.json.workflows[0], { name: "echo", versions: ["1"], latest: "1" });
    assert.deepEqual(await f.http.workflows(), res.json.workflows);
  });
});

describe("start", () => {
  test("201 for a new run, 200 with created false for the same run id, 409 with onConflict fail", async () => {
    const first = await f.raw.post("/api/v1/workflows/echo/runs", { input: { a: 1 }, runId: "start-1" });
    assert.equal(first.status, 201);
    assert.deepEqual(first.json, { runId: "start-1", created: true, workflow: "echo", version: "1" });
    const again = await f.raw.post("/api/v1/workflows/echo/runs", { input: { a: 2 }, runId: "start-1" });
    assert.equal(again.status, 200);
    assert.equal(again.json.created, false);
    const conflict = await f.raw.post("/api/v1/workflows/echo/runs", {
      runId: "start-1",
      onConflict: "fail",
    });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json.code, "RUN_ALREADY_EXISTS");
    const run = await f.http.result("start-1", { timeoutMs: 5_000 });
    assert.deepEqual(run.input, { a: 1 }, "the second start did not replace the first");
    assert.deepEqual(run.output, { a: 1 });
  });

  test("HttpClient.start returns the same results and rebuilds the conflict error", async () => {
    const started = await f.http.start("echo", 7, { runId: "start-2" });
    assert.deepEqual(started, { runId: "start-2", created: true, workflow: "echo", version: "1" });
    assert.equal((await f.http.start("echo", 8, { runId: "start-2" })).created, false);
    const error = await rejectsWith(
      f.http.start("echo", 8, { runId: "start-2", onConflict: "fail" }),
      "RUN_ALREADY_EXISTS",
    );
    assert.deepEqual(error.details, { status: (await f.http.describe("start-2")).status });
    const generated = await f.http.start("echo");
    assert.match(generated.runId, /^[0-9a-f-]{36}$/);
    assert.equal((await f.http.result(generated.runId)).status, "completed");
  });

  test("the Idempotency-Key header is the run id when the body names none", async () => {
    const key = "idem-key-1";
    const first = await f.raw.post("/api/v1/workflows/echo/runs", { input: "x" }, { "idempotency-key": key });
    assert.equal(first.status, 201);
    assert.equal(first.json.runId, key);
    const second = await f.raw.post(
      "/api/v1/workflows/echo/runs",
      { input: "y" },
      { "idempotency-key": key },
    );
    assert.equal(second.status, 200);
    assert.deepEqual(second.json, { runId: key, created: false, workflow: "echo", version: "1" });
    const noBody = await f.raw.send("POST", "/api/v1/workflows/echo/runs", {
      headers: { "idempotency-key": key },
    });
    assert.equal(noBody.status, 200, noBody.text);
    const page = await f.http.list({ idContains: key });
    assert.deepEqual(
      page.runs.map((r) => r.runId),
      [key],
    );
    // The body's runId wins over the header.
    const both = await f.raw.post(
      "/api/v1/workflows/echo/runs",
      { runId: "idem-body" },
      { "idempotency-key": key },
    );
    assert.equal(both.status, 201);
    assert.equal(both.json.runId, "idem-body");
  });

  test("unknown workflow, invalid input and a bad run id are 4xx with stable codes", async () => {
    const missing = await f.raw.post("/api/v1/workflows/nope/runs", { input: 1 });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "WORKFLOW_NOT_FOUND");
    assert.ok(missing.json.details.known.includes("echo"));
    const e = await rejectsWith(f.http.start("nope"), "WORKFLOW_NOT_FOUND");
    assert.equal(e.message, missing.json.message);

    const invalid = await f.raw.post("/api/v1/workflows/typed/runs", { input: { n: "two" } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.json.code, "INVALID_INPUT");
    assert.equal(invalid.json.details.issues[0].path, "n");
    const ok = await f.http.start("typed", { n: 21 });
    assert.equal((await f.http.result(ok.runId)).output, 42);

    const badId = await f.raw.post("/api/v1/workflows/echo/runs", { runId: "has space" });
    assert.equal(badId.status, 400);
    assert.equal(badId.json.code, "INVALID_ARGUMENT");
    const unknownField = await f.raw.post("/api/v1/workflows/echo/runs", { input: 1, inptu: 2 });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.json.code, "INVALID_ARGUMENT");
    assert.match(unknownField.json.message, /inptu/);
  });
});

describe("runs", () => {
  test("describe and history of a finished run, by raw HTTP and HttpClient; ids with / work", async () => {
    const runId = "tenant/a:b@c.d-e_f";
    await f.http.start("echo", { hello: "world" }, { runId });
    const finished = await f.http.result(runId);
    assert.equal(finished.status, "completed");
    const raw = await f.raw.get(`/api/v1/runs/${encodeURIComponent(runId)}`);
    assert.equal(raw.status, 200);
    assert.equal(raw.json.runId, runId);
    assert.deepEqual(raw.json.output, { hello: "world" });
    assert.deepEqual(await f.http.describe(runId), raw.json);

    const history = await f.raw.get(`/api/v1/runs/${encodeURIComponent(runId)}/history`);
    assert.equal(history.status, 200);
    assert.deepEqual(
      history.json.events.map((e: { type: string }) => e.type),
      ["run:created", "run:started", "step:completed", "run:finished"],
    );
    assert.equal(history.json.journal[0].name, "echo");
    assert.deepEqual(await f.http.history(runId), history.json);

    const missing = await f.raw.get("/api/v1/runs/no-such-run");
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, {
      code: "RUN_NOT_FOUND",
      message: 'run "no-such-run" not found',
      details: { runId: "no-such-run" },
    });
    await rejectsWith(f.http.describe("no-such-run"), "RUN_NOT_FOUND");
    await rejectsWith(f.http.history("no-such-run"), "RUN_NOT_FOUND");
  });

  test("a failed run reports its error", async () => {
    const { runId } = await f.http.start("fails");
    const run = await f.http.result(runId);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "STEP_FAILED");
    const history = await f.http.history(runId);
    assert.ok(history.events.some((e) => e.type === "step:failed" && e.error?.code === "BOOM"));
  });

  test("list filters by status, workflow, id text and time, and pages with a cursor", async () => {
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { runId } = await f.http.start("echo", i, { runId: `list-${i}` });
      ids.push(runId);
    }
    await f.http.start("waiter", null, { runId: "list-waiting" });
    for (const id of ids) await f.http.result(id);
    await eventually(
      async () => (await f.http.describe("list-waiting")).status === "waiting",
      "list-waiting to wait",
    );

    const all = await f.raw.get("/api/v1/runs?q=list-&limit=3");
    assert.equal(all.status, 200);
    assert.equal(all.json.runs.length, 3);
    assert.equal(typeof all.json.nextCursor, "string");
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await f.http.list({ idContains: "list-", limit: 3, cursor });
      seen.push(...page.runs.map((r) => r.runId));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual([...seen].sort(), [...ids, "list-waiting"].sort());
    assert.equal(new Set(seen).size, seen.length, "no run twice across pages");

    const waiting = await f.raw.get("/api/v1/runs?q=list-&status=waiting,running");
    assert.deepEqual(
      waiting.json.runs.map((r: { runId: string }) => r.runId),
      ["list-waiting"],
    );
    const byStatus = await f.http.list({ idContains: "list-", status: ["completed"] });
    assert.equal(byStatus.runs.length, 7);
    const byWorkflow = await f.raw.get("/api/v1/runs?q=list-&workflow=waiter");
    assert.equal(byWorkflow.json.runs.length, 1);

    const iso = new Date(t0 - 1).toISOString();
    const after = await f.raw.get(`/api/v1/runs?q=list-&createdAfter=${encodeURIComponent(iso)}`);
    assert.equal(after.json.runs.length, 8);
    const before = await f.raw.get(`/api/v1/runs?q=list-&createdBefore=${t0 - 1}`);
    assert.equal(before.json.runs.length, 0);
    const viaClient = await f.http.list({
      idContains: "list-",
      createdAfter: t0 - 1,
      createdBefore: Date.now() + 1,
    });
    assert.equal(viaClient.runs.length, 8);

    for (const bad of [
      "status=bogus",
      "limit=0",
      "limit=abc",
      "createdAfter=yesterday",
      "cursor=zzz",
      "extra=1",
    ]) {
      const res = await f.raw.get(`/api/v1/runs?${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.json.code, "INVALID_ARGUMENT", bad);
    }
    await rejectsWith(f.http.list({ cursor: "not-a-cursor" }), "INVALID_ARGUMENT");
    await f.http.terminate("list-waiting");
  });

  test("result long-polls until a signal sent during the poll finishes the run", async () => {
    const runId = "poll-1";
    await f.http.start("waiter", "in", { runId });
    await eventually(async () => (await f.http.describe(runId)).status === "waiting", "run to wait");
    // Send the signal once the poll request has reached the server.
    const arrived = new Promise<void>((resolve) => {
      const onRequest = (req: { url?: string }) => {
        if (req.url?.includes(`/runs/${runId}/result`)) {
          f.server.app.server.off("request", onRequest);
          resolve();
        }
      };
      f.server.app.server.on("request", onRequest);
    });
    const poll = f.raw.get(`/api/v1/runs/${runId}/result?timeoutMs=20000`);
    await arrived;
    const sent = await f.raw.post(`/api/v1/runs/${runId}/signals/go`, { payload: { ok: true } });
    assert.equal(sent.status, 200);
    assert.equal(typeof sent.json.signalId, "number");
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.json.status, "completed", "one request waited for the run to finish");
    assert.deepEqual(res.json.output, { input: "in", signal: { ok: true } });
  });

  test("result answers 200 with the unfinished run when the wait ends; HttpClient gives RESULT_TIMEOUT", async () => {
    const { runId } = await f.http.start("waiter");
    await eventually(async () => (await f.http.describe(runId)).status === "waiting", "run to wait");
    const res = await f.raw.get(`/api/v1/runs/${runId}/result?timeoutMs=50`);
    assert.equal(res.status, 200);
    assert.equal(res.json.status, "waiting");
    const started = Date.now();
    await rejectsWith(f.http.result(runId, { timeoutMs: 150 }), "RESULT_TIMEOUT");
    assert.ok(Date.now() - started >= 140, "the client waited its timeout");
    const missing = await f.raw.get("/api/v1/runs/nope/result?timeoutMs=10000");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "RUN_NOT_FOUND");
    const bad = await f.raw.get(`/api/v1/runs/${runId}/result?timeoutMs=-1`);
    assert.equal(bad.status, 400);
    // HttpClient.result finishes across polls when the signal arrives
    const waiting = f.http.result(runId, { timeoutMs: 10_000 });
    await f.http.signal(runId, "go", 5);
    assert.deepEqual((await waiting).output, { signal: 5 });
  });

  test("result stops at once when its signal aborts, and the server drops the abandoned long-poll", async () => {
    const { runId } = await f.http.start("waiter");
    await eventually(async () => (await f.http.describe(runId)).status === "waiting", "run to wait");
    const waiters = () => f.server.engine.stats().resultWaiters;
    assert.equal(waiters(), 0);

    // HttpClient: the poll is aborted mid-wait; the server's waiter goes with the connection.
    const controller = new AbortController();
    const polling = f.http.result(runId, { timeoutMs: 30_000, signal: controller.signal });
    await eventually(() => waiters() === 1, "the server to hold the long-poll");
    const abortedAt = Date.now();
    controller.abort();
    await assert.rejects(polling, { name: "AbortError" });
    assert.ok(Date.now() - abortedAt < 1_000, "the client stopped waiting at once");
    await eventually(() => waiters() === 0, "the server to drop the abandoned long-poll", 2_000);

    // The caller's own reason comes back; an already aborted signal sends no request.
    const mine = new AbortController();
    const withReason = f.http.result(runId, { timeoutMs: 30_000, signal: mine.signal });
    await eventually(() => waiters() === 1, "the second long-poll");
    mine.abort(new Error("caller gave up"));
    await assert.rejects(withReason, /caller gave up/);
    await eventually(() => waiters() === 0, "the server to drop the second long-poll", 2_000);
    await assert.rejects(f.http.result(runId, { signal: AbortSignal.abort() }), { name: "AbortError" });

    // LocalClient (the server's own) behaves the same.
    const local = new AbortController();
    const localWait = f.server.client.result(runId, { timeoutMs: 30_000, signal: local.signal });
    await eventually(() => waiters() === 1, "the local waiter");
    local.abort();
    await assert.rejects(localWait, { name: "AbortError" });
    assert.equal(waiters(), 0);

    // Unaborted waits are unaffected.
    const waiting = f.http.result(runId, { timeoutMs: 10_000, signal: new AbortController().signal });
    await f.http.signal(runId, "go", 7);
    assert.deepEqual((await waiting).output, { signal: 7 });
    await eventually(() => waiters() === 0, "no waiters left");
  });

  test("signal: HttpClient and raw; unknown runs 404, finished runs 409", async () => {
    const { runId } = await f.http.start("waiter", 1);
    const { signalId } = await f.http.signal(runId, "go", "payload");
    assert.equal(typeof signalId, "number");
    const run = await f.http.result(runId);
    assert.deepEqual(run.output, { input: 1, signal: "payload" });
    const late = await f.raw.post(`/api/v1/runs/${runId}/signals/go`, { payload: 2 });
    assert.equal(late.status, 409);
    assert.equal(late.json.code, "RUN_FINISHED");
    assert.equal(late.json.details.status, "completed");
    await rejectsWith(f.http.signal(runId, "go"), "RUN_FINISHED");
    const missing = await f.raw.post("/api/v1/runs/nope/signals/go", {});
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "RUN_NOT_FOUND");
    const noBody = await f.raw.send("POST", "/api/v1/runs/nope/signals/go");
    assert.equal(noBody.status, 404, "a signal without a body is allowed (payload undefined)");
  });

  test("signal-with-start starts a missing run, signals an existing one, refuses a finished one", async () => {
    const created = await f.raw.post("/api/v1/workflows/waiter/signal-with-start", {
      runId: "sws-1",
      signal: "go",
      payload: "first",
      input: "i",
    });
    assert.equal(created.status, 201);
    assert.equal(created.json.created, true);
    assert.equal(created.json.runId, "sws-1");
    assert.equal(typeof created.json.signalId, "number");
    assert.deepEqual((await f.http.result("sws-1")).output, { input: "i", signal: "first" });

    await f.http.start("waiter", "existing", { runId: "sws-2" });
    const existing = await f.http.signalWithStart("waiter", {
      runId: "sws-2",
      signal: "go",
      payload: 2,
      input: "x",
    });
    assert.equal(existing.created, false);
    assert.deepEqual((await f.http.result("sws-2")).output, { input: "existing", signal: 2 });

    const finished = await f.raw.post("/api/v1/workflows/waiter/signal-with-start", {
      runId: "sws-1",
      signal: "go",
    });
    assert.equal(finished.status, 409);
    assert.equal(finished.json.code, "RUN_FINISHED");
    const missingFields = await f.raw.post("/api/v1/workflows/waiter/signal-with-start", { signal: "go" });
    assert.equal(missingFields.status, 400);
    assert.equal(missingFields.json.code, "INVALID_ARGUMENT");
    const unknownWorkflow = await f.raw.post("/api/v1/workflows/nope/signal-with-start", {
      runId: "x",
      signal: "go",
    });
    assert.equal(unknownWorkflow.status, 404);
    assert.equal(unknownWorkflow.json.code, "WORKFLOW_NOT_FOUND");
  });

  test("cancel (202, run ends cancelled) and terminate (200, run ends terminated)", async () => {
    const a = await f.http.start("waiter");
    await eventually(async () => (await f.http.describe(a.runId)).status === "waiting", "run to wait");
    const cancelled = await f.raw.send("POST", `/api/v1/runs/${a.runId}/cancel`);
    assert.equal(cancelled.status, 202);
    assert.deepEqual(cancelled.json, { runId: a.runId });
    assert.equal((await f.http.result(a.runId)).status, "cancelled");
    const again = await f.raw.post(`/api/v1/runs/${a.runId}/cancel`, {});
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "RUN_FINISHED");

    const b = await f.http.start("waiter");
    await f.http.cancel(b.runId);
    assert.equal((await f.http.result(b.runId)).status, "cancelled");

    const c = await f.http.start("waiter");
    const terminated = await f.raw.post(`/api/v1/runs/${c.runId}/terminate`, { reason: "test says so" });
    assert.equal(terminated.status, 200);
    assert.deepEqual(terminated.json, { runId: c.runId, status: "terminated" });
    const run = await f.http.describe(c.runId);
    assert.equal(run.status, "terminated");
    assert.equal(run.error?.message, "test says so");

    const d = await f.http.start("waiter");
    await f.http.terminate(d.runId, "by client");
    assert.equal((await f.http.describe(d.runId)).error?.message, "by client");
    await rejectsWith(f.http.terminate(d.runId), "RUN_FINISHED");
    await rejectsWith(f.http.cancel("nope"), "RUN_NOT_FOUND");
  });
});

describe("health and documents", () => {
  test("healthz and readyz answer 200", async () => {
    const health = await f.raw.get("/healthz");
    assert.equal(health.status, 200);
    assert.equal(health.json.status, "ok");
    assert.equal(health.json.node, f.server.engine.nodeId);
    const ready = await f.raw.get("/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { ready: true });
  });

  test("/openapi.json is an OpenAPI 3.1 document listing every route with its error body", async () => {
    const res = await f.raw.get("/openapi.json");
    assert.equal(res.status, 200);
    const doc = res.json;
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, "string");
    const expected: [string, string][] = [
      ["get", "/healthz"],
      ["get", "/readyz"],
      ["get", "/api/v1/workflows"],
      ["post", "/api/v1/workflows/{name}/runs"],
      ["post", "/api/v1/workflows/{name}/signal-with-start"],
      ["get", "/api/v1/runs"],
      ["get", "/api/v1/runs/{id}"],
      ["get", "/api/v1/runs/{id}/history"],
      ["get", "/api/v1/runs/{id}/result"],
      ["post", "/api/v1/runs/{id}/signals/{name}"],
      ["post", "/api/v1/runs/{id}/cancel"],
      ["post", "/api/v1/runs/{id}/terminate"],
      ["post", "/api/v1/runs/{id}/retry"],
      ["get", "/api/v1/queues"],
      ["get", "/api/v1/queues/{queue}"],
      ["put", "/api/v1/queues/{queue}/limits"],
      ["post", "/api/v1/queues/{queue}/poll"],
      ["post", "/api/v1/tasks/{taskId}/heartbeat"],
      ["post", "/api/v1/tasks/{taskId}/complete"],
      ["post", "/api/v1/tasks/{taskId}/fail"],
      ["post", "/api/v1/schedules"],
      ["get", "/api/v1/schedules"],
      ["get", "/api/v1/schedules/{id}"],
      ["post", "/api/v1/schedules/{id}/pause"],
      ["post", "/api/v1/schedules/{id}/resume"],
      ["delete", "/api/v1/schedules/{id}"],
      ["post", "/api/v1/schedules/{id}/trigger"],
      ["get", "/api/v1/stats"],
      ["get", "/api/v1/events"],
      ["get", "/api/v1/alerts"],
      ["get", "/metrics"],
      ["post", "/api/v1/definitions"],
      ["get", "/api/v1/definitions"],
      ["get", "/api/v1/definitions/{name}"],
      ["get", "/api/v1/workflows/{name}/graph"],
    ];
    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`),
    );
    assert.deepEqual(listed.sort(), expected.map(([m, p]) => `${m} ${p}`).sort());
    for (const [method, path] of expected) {
      const op = doc.paths[path][method];
      assert.ok(op.summary, `${method} ${path} has a summary`);
      const ok = Object.keys(op.responses).filter((s) => s.startsWith("2"));
      assert.ok(ok.length > 0, `${method} ${path} documents a success response`);
      if (path.startsWith("/api/")) {
        const error = op.responses["400"].content["application/json"].schema;
        assert.deepEqual(error.required, ["code", "message"], `${method} ${path} documents the error body`);
      }
    }
    const start = doc.paths["/api/v1/workflows/{name}/runs"].post;
    assert.ok(
      start.parameters.some(
        (p: { in: string; name: string }) => p.in === "header" && p.name === "idempotency-key",
      ),
    );
    assert.equal(doc.paths["/api/v1/runs/{id}/cancel"].post.requestBody.required, false);
    assert.equal(doc.paths["/api/v1/workflows/{name}/signal-with-start"].post.requestBody.required, true);
    const listParams = doc.paths["/api/v1/runs"].get.parameters.map((p: { name: string }) => p.name);
    for (const name of ["status", "workflow", "createdAfter", "createdBefore", "q", "limit", "cursor"]) {
      assert.ok(listParams.includes(name), `GET /runs documents ${name}`);
    }
    const events = doc.paths["/api/v1/events"].get.responses["200"];
    assert.ok(events.content["text/event-stream"], "the event feed is documented as an event stream");
    const poll = doc.paths["/api/v1/queues/{queue}/poll"].post.requestBody.content["application/json"].schema;
    assert.deepEqual(poll.required, ["workerId"], "the poll body is documented");
    const docs = await f.raw.get("/docs");
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger/i);
  });

  test("a request node's HTTP parser rejects still gets a JSON error body", async () => {
    const { port } = f.server;
    const answer = await new Promise<string>((resolve, reject) => {
      let data = "";
      const socket = connect(port, "127.0.0.1", () => socket.write("NOT HTTP AT ALL\r\n\r\n"));
      socket.on("data", (d) => {
        data += d;
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
    assert.equal(body.code, "INVALID_ARGUMENT");
    assert.equal((await f.raw.get("/healthz")).status, 200);
  });

  test("HttpClient errors keep the server's code, message and details", async () => {
    try {
      await f.http.describe("nope-1");
      assert.fail("expected an error");
    } catch (error) {
      assert.ok(error instanceof DirigentError);
      assert.deepEqual(
        { code: error.code, message: error.message, details: error.details },
        { code: "RUN_NOT_FOUND", message: 'run "nope-1" not found', details: { runId: "nope-1" } },
      );
    }
  });
});
