// Property: whatever malformed request arrives — unknown routes, wrong methods, invalid JSON, wrong
// content types, oversize bodies, wrong types, unknown fields, bad query parameters, unknown runs,
// workflows, queues, tasks and schedules, invalid cron expressions — the server answers 4xx with a JSON
// body {code, message} whose code is a stable one and whose status is that code's status. Never a 5xx,
// never a crash, and nothing is created.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Cron } from "croner";
import fc from "fast-check";
import { knownErrorCodes, statusForCode } from "../../src/server/errors.js";
import { type ServerFixture, serverFixture } from "./helpers.js";

const RUNS = 1_000;
const KNOWN_CODES = new Set(knownErrorCodes());

interface Req {
  kind: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

let f: ServerFixture;
before(async () => {
  f = await serverFixture();
});
after(async () => {
  await f.close();
});

// ---- building blocks --------------------------------------------------------------------------------

const text = (maxLength = 30) => fc.string({ unit: "binary", maxLength });
/** An id no run or workflow has ("nx-" prefix), percent-encoded for a path. */
const missingId = text(40).map((s) => encodeURIComponent(`nx-${s}`));
const knownWorkflow = fc.constantFrom("echo", "waiter", "fails", "typed", "hold");
const anyWorkflow = fc.oneof(knownWorkflow.map(encodeURIComponent), missingId);
const badEncoding = fc.constantFrom("%", "%zz", "%E0%A4%A", "%C3%28", "a%", "%%20");
/** JSON values that are not objects (null is excluded: it stands for "no body" on optional bodies). */
const nonObject = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string(),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
);
const nonString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
/** Object keys no request schema knows. */
const unknownKey = fc.string({ minLength: 1, maxLength: 12 }).map((k) => `zz${k}`);
const extraFields = fc.dictionary(unknownKey, fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 3 });
const longString = (min: number, max: number) => fc.integer({ min, max }).map((n) => "r".repeat(n));

/** A well-formed queue name no queue has. */
const missingQueue = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/).map((s) => `nx-${s}`);
/** Queue names the engine refuses (spaces, other characters, too long, empty-ish). */
const badQueue = fc
  .oneof(
    fc.constantFrom("has space", "-leading", ".dot", "a/b", "a#b", "ü"),
    longString(101, 300),
    text(10).map((s) => `bad ${s}`),
  )
  .map(encodeURIComponent);
const anyQueue = fc.oneof(missingQueue, badQueue);
/** Cron expressions croner refuses. */
const invalidCron = fc.oneof(
  fc.constantFrom(
    "not a cron",
    "61 * * * *",
    "* * *",
    "* * * * * * * *",
    "*/0 * * * *",
    "* 25 * * *",
    "@never",
  ),
  fc.string({ maxLength: 30 }).filter((c) => !cronParses(c)),
);

/** POST routes, with the path filled in for a workflow or a (missing) run, task, queue or schedule. */
const postRoute = fc.oneof(
  anyWorkflow.map((w) => `/api/v1/workflows/${w}/runs`),
  anyWorkflow.map((w) => `/api/v1/workflows/${w}/signal-with-start`),
  fc.tuple(missingId, text(10)).map(([id, s]) => `/api/v1/runs/${id}/signals/${encodeURIComponent(`s${s}`)}`),
  missingId.map((id) => `/api/v1/runs/${id}/cancel`),
  missingId.map((id) => `/api/v1/runs/${id}/terminate`),
  missingId.map((id) => `/api/v1/runs/${id}/retry`),
  anyQueue.map((q) => `/api/v1/queues/${q}/poll`),
  fc
    .tuple(missingId, fc.constantFrom("heartbeat", "complete", "fail"))
    .map(([id, action]) => `/api/v1/tasks/${id}/${action}`),
  fc.constant("/api/v1/schedules"),
  fc
    .tuple(missingId, fc.constantFrom("pause", "resume", "trigger"))
    .map(([id, action]) => `/api/v1/schedules/${id}/${action}`),
);

/** Every route that takes a body, with its method. */
const bodyRoute = fc.oneof(
  { arbitrary: postRoute.map((path) => ["POST", path] as const), weight: 6 },
  { arbitrary: anyQueue.map((q) => ["PUT", `/api/v1/queues/${q}/limits`] as const), weight: 1 },
);

const JSON_TYPE: Record<string, string> = { "content-type": "application/json" };

// ---- malformed request generators -------------------------------------------------------------------

const unknownRoute = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "SEARCH"),
    prefix: fc.constantFrom("/api/v1/", "/api/v2/", "/api/", "/", "/docs/", "/healthz/", "/api/v1/runs/x/"),
    segments: fc.array(
      fc.oneof(
        text(12).map((s) => encodeURIComponent(`x-${s}`)),
        badEncoding,
      ),
      { minLength: 1, maxLength: 4 },
    ),
    body: fc.option(fc.string({ maxLength: 50 }), { nil: undefined }),
    type: fc.constantFrom("application/json", "text/plain", "application/octet-stream"),
  })
  .map(
    ({ method, prefix, segments, body, type }): Req => ({
      kind: "unknown route",
      method,
      path: prefix + segments.join("/"),
      ...(body !== undefined && ["POST", "PUT", "PATCH", "DELETE"].includes(method)
        ? { body, headers: { "content-type": type } }
        : {}),
    }),
  );

/** Methods a route does not have. */
const wrongMethod = fc
  .tuple(
    fc.constantFrom(
      ["GET", "/api/v1/workflows/echo/runs"],
      ["PUT", "/api/v1/workflows/echo/runs"],
      ["DELETE", "/api/v1/runs/nx-1"],
      ["PATCH", "/api/v1/runs/nx-1"],
      ["POST", "/api/v1/runs"],
      ["POST", "/api/v1/workflows"],
      ["PUT", "/api/v1/runs"],
      ["GET", "/api/v1/runs/nx-1/cancel"],
      ["GET", "/api/v1/runs/nx-1/signals/go"],
      ["DELETE", "/api/v1/workflows/echo/signal-with-start"],
      ["POST", "/healthz"],
      ["PUT", "/readyz"],
      ["POST", "/openapi.json"],
      ["POST", "/api/v1/queues"],
      ["GET", "/api/v1/queues/q/poll"],
      ["DELETE", "/api/v1/queues/q"],
      ["POST", "/api/v1/queues/q/limits"],
      ["GET", "/api/v1/tasks/x/complete"],
      ["PUT", "/api/v1/tasks/x/heartbeat"],
      ["PUT", "/api/v1/schedules"],
      ["PATCH", "/api/v1/schedules/s"],
      ["GET", "/api/v1/schedules/s/trigger"],
      ["POST", "/api/v1/stats"],
      ["POST", "/api/v1/events"],
      ["HEAD", "/api/v1/events"],
    ),
  )
  .map(([[method, path]]): Req => ({ kind: "wrong method", method: method!, path: path! }));

const invalidJsonText = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "{",
    "}",
    "[",
    '{"a":',
    "{'a':1}",
    '{"a":1,}',
    "NaN",
    "undefined",
    "{a:1}",
    '"unterminated',
    "[1,2",
    "\uFEFF",
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
  fc
    .json()
    .map((s) => s.slice(0, Math.max(0, s.length - 1)))
    .filter((s) => !parses(s)),
  fc.string({ maxLength: 40 }).filter((s) => !parses(s)),
);

const invalidJson = fc
  .tuple(bodyRoute, invalidJsonText)
  .map(([[method, path], body]): Req => ({ kind: "invalid JSON", method, path, body, headers: JSON_TYPE }));

const wrongContentType = fc
  .tuple(
    bodyRoute,
    fc.oneof(
      fc.constantFrom(
        "text/plain",
        "text/html",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "application/jsonx",
        "application/x-json",
        "json",
      ),
      fc
        .tuple(fc.constantFrom("text", "image", "application", "foo"), fc.stringMatching(/^[a-z]{1,10}$/))
        .filter(([, sub]) => sub !== "json")
        .map(([type, sub]) => `${type}/${sub}`),
    ),
    fc.oneof(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 40 })),
  )
  .map(
    ([[method, path], type, body]): Req => ({
      kind: "wrong content type",
      method,
      path,
      body: body === "" ? "x" : body,
      headers: { "content-type": type },
    }),
  );

/** Bodies over the body limit (whole request) or over the payload limit (the input inside). */
const oversize = fc.oneof(
  fc.tuple(bodyRoute, fc.integer({ min: 2_300_000, max: 3_000_000 })).map(
    ([[method, path], n]): Req => ({
      kind: "oversize body",
      method,
      path,
      body: `{"input":"${"x".repeat(n)}"}`,
      headers: JSON_TYPE,
    }),
  ),
  fc.tuple(knownWorkflow, fc.integer({ min: 2_100_000, max: 2_150_000 })).map(
    ([w, n]): Req => ({
      kind: "oversize input",
      method: "POST",
      path: `/api/v1/workflows/${w}/runs`,
      body: JSON.stringify({ input: "y".repeat(n) }),
      headers: JSON_TYPE,
    }),
  ),
);

/** Well-formed JSON that breaks the route's body schema (or the engine's checks). */
const schemaViolation = fc
  .oneof(
    // start
    fc
      .tuple(
        anyWorkflow,
        fc.oneof(
          nonObject,
          extraFields.map((extra) => ({ input: 1, ...extra })),
          nonString.map((runId) => ({ runId })),
          fc.constantFrom("", "has space", "-leading", "a#b").map((runId) => ({ runId })),
          longString(201, 5_000).map((runId) => ({ runId })),
          fc
            .string({ maxLength: 10 })
            .filter((s) => s !== "return" && s !== "fail")
            .map((onConflict) => ({ onConflict })),
          nonString.map((version) => ({ version })),
        ),
      )
      .map(([w, body]) => [`/api/v1/workflows/${w}/runs`, body] as const),
    // signal-with-start: always missing a required field, or a wrong type, or an extra field
    fc
      .tuple(
        anyWorkflow,
        fc.oneof(
          nonObject,
          fc.record({
            signal: fc.string({ minLength: 1, maxLength: 10 }),
            payload: fc.jsonValue({ maxDepth: 1 }),
          }),
          fc.record({ runId: fc.string({ minLength: 1, maxLength: 10 }) }),
          fc.record({ runId: nonString, signal: fc.constant("go") }),
          fc.record({ runId: fc.constant("r1"), signal: nonString }),
          extraFields.map((extra) => ({ runId: "r1", signal: "go", ...extra })),
          fc.constant({ runId: "", signal: "go" }),
        ),
      )
      .map(([w, body]) => [`/api/v1/workflows/${w}/signal-with-start`, body] as const),
    // signal, cancel, retry, terminate
    fc
      .tuple(missingId, fc.oneof(nonObject, extraFields))
      .map(([id, body]) => [`/api/v1/runs/${id}/signals/go`, body] as const),
    fc
      .tuple(
        missingId,
        fc.constantFrom("cancel", "retry"),
        fc.oneof(nonObject, extraFields, fc.constant({ payload: 1 })),
      )
      .map(([id, action, body]) => [`/api/v1/runs/${id}/${action}`, body] as const),
    fc
      .tuple(
        missingId,
        fc.oneof(
          nonObject,
          extraFields,
          nonString.map((reason) => ({ reason })),
          longString(1_001, 3_000).map((reason) => ({ reason })),
        ),
      )
      .map(([id, body]) => [`/api/v1/runs/${id}/terminate`, body] as const),
    // poll: a well-formed queue, a body that is not
    fc
      .tuple(
        missingQueue,
        fc.oneof(
          nonObject,
          fc.constant({}),
          fc.constant(null),
          nonString.map((workerId) => ({ workerId })),
          fc.constant({ workerId: "" }),
          longString(201, 1_000).map((workerId) => ({ workerId })),
          extraFields.map((extra) => ({ workerId: "w", ...extra })),
          fc
            .oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 }), fc.constant(1.5), fc.constant("2"))
            .map((maxTasks) => ({ workerId: "w", maxTasks })),
          fc
            .oneof(fc.integer({ max: -1 }), fc.integer({ min: 60_001 }), fc.constant(0.5), fc.constant(null))
            .map((waitMs) => ({ workerId: "w", waitMs })),
        ),
      )
      .map(([q, body]) => [`/api/v1/queues/${q}/poll`, body] as const),
    // heartbeat, complete, fail
    fc
      .tuple(
        missingId,
        fc.constantFrom("heartbeat", "complete", "fail"),
        fc.oneof(
          nonObject,
          fc.constant({}),
          fc.constant(null),
          fc
            .oneof(fc.integer({ max: -1 }), fc.constant(1.5), fc.string(), fc.constant(null))
            .map((leaseToken) => ({ leaseToken, result: 1, error: { message: "m" } })),
          extraFields.map((extra) => ({ ...extra, leaseToken: 1 })),
        ),
      )
      .map(([id, action, body]) => [`/api/v1/tasks/${id}/${action}`, body] as const),
    fc
      .tuple(
        missingId,
        fc.oneof(
          fc.constant({ leaseToken: 1 }),
          nonObject.map((error) => ({ leaseToken: 1, error })),
          fc.constant({ leaseToken: 1, error: {} }),
          nonString.map((message) => ({ leaseToken: 1, error: { message } })),
          nonObject
            .filter((v) => typeof v !== "boolean")
            .map((retryable) => ({ leaseToken: 1, error: { message: "m", retryable } })),
          fc
            .oneof(fc.integer({ max: -1 }), fc.constant(1.5), fc.constant("10"))
            .map((retryAfterMs) => ({ leaseToken: 1, error: { message: "m", retryAfterMs } })),
          extraFields.map((extra) => ({ leaseToken: 1, error: { message: "m", ...extra } })),
        ),
      )
      .map(([id, body]) => [`/api/v1/tasks/${id}/fail`, body] as const),
    // create a schedule: always missing a field, a wrong type, a bad value or an extra field
    fc
      .oneof(
        nonObject,
        fc.constant(null),
        fc.record({ cron: fc.constant("* * * * *"), workflow: knownWorkflow }),
        fc.record({ scheduleId: fc.constant("s1"), workflow: knownWorkflow }),
        fc.record({ scheduleId: fc.constant("s1"), cron: fc.constant("* * * * *") }),
        fc
          .oneof(fc.constantFrom("", "has space", "-x", "a/b"), longString(101, 500))
          .map((scheduleId) => ({ scheduleId, cron: "* * * * *", workflow: "echo" })),
        nonString.map((cron) => ({ scheduleId: "s1", cron, workflow: "echo" })),
        fc
          .string({ maxLength: 12 })
          .filter((o) => !["skip", "buffer_one", "allow_all"].includes(o))
          .map((overlap) => ({ scheduleId: "s1", cron: "* * * * *", workflow: "echo", overlap })),
        fc.oneof(fc.integer({ max: -1 }), fc.constant(0.5), fc.constant("60")).map((catchupWindowMs) => ({
          scheduleId: "s1",
          cron: "* * * * *",
          workflow: "echo",
          catchupWindowMs,
        })),
        extraFields.map((extra) => ({ scheduleId: "s1", cron: "* * * * *", workflow: "echo", ...extra })),
      )
      .map((body) => ["/api/v1/schedules", body] as const),
    fc
      .tuple(missingId, fc.constantFrom("pause", "resume", "trigger"), fc.oneof(nonObject, extraFields))
      .map(([id, action, body]) => [`/api/v1/schedules/${id}/${action}`, body] as const),
  )
  .map(
    ([path, value]): Req => ({
      kind: "schema violation",
      method: "POST",
      path,
      body: JSON.stringify(value),
      headers: JSON_TYPE,
    }),
  );

/** Queue limits that break the body schema. */
const badLimits = fc
  .tuple(
    missingQueue,
    fc.oneof(
      nonObject,
      fc.constant(null),
      extraFields,
      fc
        .oneof(fc.integer({ max: 0 }), fc.constant(1.5), fc.constant("3"), fc.integer({ min: 1_000_001 }))
        .map((concurrency) => ({ concurrency })),
      fc
        .oneof(fc.integer({ max: 0 }), fc.double({ max: 0, noNaN: true }), fc.constant("3"))
        .map((ratePerSecond) => ({ ratePerSecond })),
    ),
  )
  .map(
    ([q, value]): Req => ({
      kind: "schema violation",
      method: "PUT",
      path: `/api/v1/queues/${q}/limits`,
      body: JSON.stringify(value),
      headers: JSON_TYPE,
    }),
  );

/** GET routes with query parameters they do not accept. */
const badQuery = fc
  .oneof(
    fc
      .constantFrom(
        "status=bogus",
        "status=running,nope",
        "status=",
        "limit=0",
        "limit=1001",
        "limit=-5",
        "limit=1.5",
        "limit=abc",
        "limit=1&limit=2",
        "createdAfter=yesterday",
        "createdBefore=2020-13-45",
        "createdAfter=",
        "cursor=",
        "cursor=!!!",
        "q=",
        "workflow=",
      )
      .map((q) => `/api/v1/runs?${q}`),
    fc
      .tuple(unknownKey, text(10))
      .map(([k, v]) => `/api/v1/runs?${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
    fc.tuple(unknownKey, missingId).map(([k, id]) => `/api/v1/runs/${id}?${encodeURIComponent(k)}=1`),
    fc.tuple(unknownKey, missingId).map(([k, id]) => `/api/v1/runs/${id}/history?${encodeURIComponent(k)}=1`),
    fc.tuple(unknownKey).map(([k]) => `/api/v1/workflows?${encodeURIComponent(k)}=1`),
    fc
      .tuple(missingId, fc.constantFrom("-1", "abc", "1e3", "", "99999999999", "0x10"))
      .map(([id, t]) => `/api/v1/runs/${id}/result?timeoutMs=${t}`),
    longString(1_001, 3_000).map((id) => `/api/v1/runs/${id}`),
    badEncoding.map((b) => `/api/v1/runs/${b}/history`),
    fc
      .constantFrom(
        "since=yesterday",
        "until=2020-13-45",
        "since=",
        "bucketMs=0",
        "bucketMs=999",
        "bucketMs=1000",
        "bucketMs=abc",
        "bucketMs=-1",
        "since=2000&until=1000",
        "since=1000&until=1000",
        "workflow=",
      )
      .map((q) => `/api/v1/stats?${q}`),
    fc.constantFrom("runId=", `runId=${"r".repeat(201)}`).map((q) => `/api/v1/events?${q}`),
    fc
      .tuple(
        fc.constantFrom("/api/v1/stats", "/api/v1/events", "/api/v1/queues", "/api/v1/schedules"),
        unknownKey,
      )
      .map(([path, k]) => `${path}?${encodeURIComponent(k)}=1`),
    fc.tuple(missingQueue, unknownKey).map(([q, k]) => `/api/v1/queues/${q}?${encodeURIComponent(k)}=1`),
    badQueue.map((q) => `/api/v1/queues/${q}`),
  )
  .map((path): Req => ({ kind: "bad query or path", method: "GET", path }));

/** Well-formed requests for runs and workflows that do not exist. */
const missingResource = fc
  .oneof(
    missingId.map((id) => ({ method: "GET", path: `/api/v1/runs/${id}` })),
    missingId.map((id) => ({ method: "GET", path: `/api/v1/runs/${id}/history` })),
    missingId.map((id) => ({ method: "GET", path: `/api/v1/runs/${id}/result?timeoutMs=10000` })),
    missingId.map((id) => ({ method: "POST", path: `/api/v1/runs/${id}/cancel` })),
    missingId.map((id) => ({ method: "POST", path: `/api/v1/runs/${id}/retry` })),
    fc.tuple(missingId, fc.jsonValue({ maxDepth: 2 })).map(([id, payload]) => ({
      method: "POST",
      path: `/api/v1/runs/${id}/signals/go`,
      body: JSON.stringify({ payload }),
    })),
    fc.tuple(missingId, fc.jsonValue({ maxDepth: 2 })).map(([w, input]) => ({
      method: "POST",
      path: `/api/v1/workflows/${w}/runs`,
      body: JSON.stringify({ input }),
    })),
    fc.tuple(missingId, fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/)).map(([w, runId]) => ({
      method: "POST",
      path: `/api/v1/workflows/${w}/signal-with-start`,
      body: JSON.stringify({ runId, signal: "go" }),
    })),
    missingQueue.map((q) => ({ method: "GET", path: `/api/v1/queues/${q}` })),
    fc.tuple(missingId, fc.nat()).map(([id, leaseToken]) => ({
      method: "POST",
      path: `/api/v1/tasks/${id}/heartbeat`,
      body: JSON.stringify({ leaseToken }),
    })),
    fc.tuple(missingId, fc.nat(), fc.jsonValue({ maxDepth: 2 })).map(([id, leaseToken, result]) => ({
      method: "POST",
      path: `/api/v1/tasks/${id}/complete`,
      body: JSON.stringify({ leaseToken, result }),
    })),
    fc
      .tuple(missingId, fc.nat(), fc.string({ maxLength: 30 }), fc.boolean())
      .map(([id, leaseToken, message, retryable]) => ({
        method: "POST",
        path: `/api/v1/tasks/${id}/fail`,
        body: JSON.stringify({ leaseToken, error: { message, retryable } }),
      })),
    fc
      .tuple(missingId, fc.constantFrom("GET", "DELETE"))
      .map(([id, method]) => ({ method, path: `/api/v1/schedules/${id}` })),
    fc
      .tuple(missingId, fc.constantFrom("pause", "resume", "trigger"))
      .map(([id, action]) => ({ method: "POST", path: `/api/v1/schedules/${id}/${action}` })),
    fc.tuple(missingId, fc.jsonValue({ maxDepth: 2 })).map(([w, input]) => ({
      method: "POST",
      path: "/api/v1/schedules",
      body: JSON.stringify({
        scheduleId: "s-missing",
        cron: "* * * * *",
        workflow: decodeURIComponent(w),
        input,
      }),
    })),
    fc.tuple(knownWorkflow, invalidCron).map(([workflow, cron]) => ({
      method: "POST",
      path: "/api/v1/schedules",
      body: JSON.stringify({ scheduleId: "s-bad-cron", cron, workflow }),
    })),
  )
  .map(
    (r: { method: string; path: string; body?: string }): Req => ({
      kind: "missing resource",
      ...r,
      ...(r.body !== undefined ? { headers: JSON_TYPE } : {}),
    }),
  );

const malformed = fc.oneof(
  { arbitrary: unknownRoute, weight: 4 },
  { arbitrary: wrongMethod, weight: 1 },
  { arbitrary: invalidJson, weight: 4 },
  { arbitrary: wrongContentType, weight: 3 },
  { arbitrary: oversize, weight: 1 },
  { arbitrary: schemaViolation, weight: 6 },
  { arbitrary: badLimits, weight: 1 },
  { arbitrary: badQuery, weight: 3 },
  { arbitrary: missingResource, weight: 3 },
);

/** Whether croner accepts `cron` as an expression. */
function cronParses(cron: string): boolean {
  try {
    new Cron(cron, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

/** Whether fastify's JSON parser would accept `s` (it skips a leading byte order mark). */
function parses(s: string): boolean {
  try {
    JSON.parse(s.replace(/^\uFEFF/, ""));
    return true;
  } catch {
    return false;
  }
}

test(`${RUNS} malformed requests all get a 4xx with a stable JSON error, and the server lives on`, async () => {
  const kinds = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(malformed, async (req) => {
      kinds.set(req.kind, (kinds.get(req.kind) ?? 0) + 1);
      const res = await f.raw.send(req.method, req.path, { body: req.body, headers: req.headers });
      const what = `${req.kind}: ${req.method} ${req.path.slice(0, 120)} ${req.headers?.["content-type"] ?? ""} ${(req.body ?? "").slice(0, 80)} -> ${res.status} ${res.text.slice(0, 200)}`;
      assert.ok(res.status >= 400 && res.status < 500, what);
      assert.match(String(res.headers["content-type"]), /^application\/json/, what);
      if (req.method === "HEAD") return; // no body by definition
      assert.equal(typeof res.json, "object", what);
      assert.equal(typeof res.json.code, "string", what);
      assert.equal(typeof res.json.message, "string", what);
      assert.ok(KNOWN_CODES.has(res.json.code), `unknown code ${res.json.code} — ${what}`);
      assert.equal(res.status, statusForCode(res.json.code), `status matches the code — ${what}`);
    }),
    { numRuns: RUNS },
  );
  // Every kind of malformed request was exercised.
  for (const kind of [
    "unknown route",
    "wrong method",
    "invalid JSON",
    "wrong content type",
    "oversize body",
    "oversize input",
    "schema violation",
    "bad query or path",
    "missing resource",
  ]) {
    assert.ok((kinds.get(kind) ?? 0) > 0, `no "${kind}" request was generated`);
  }
  const health = await f.raw.get("/healthz");
  assert.equal(health.status, 200);
  assert.equal((await f.raw.get("/readyz")).status, 200);
  const page = await f.http.list({ limit: 10 });
  assert.deepEqual(page.runs, [], "no malformed request created a run");
  assert.deepEqual(await f.http.listSchedules(), [], "nor a schedule");
  assert.deepEqual(await f.http.listQueues(), [], "nor a queue (no poll or limits went through)");
});
