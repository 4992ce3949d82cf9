// Every step kind of the declarative language, end to end: a real engine on a SQLite file, a TestClock,
// and real HTTP servers on loopback.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { deployDefinition, loadDefinitions } from "../../src/dsl/registry.js";
import { workflow } from "../../src/runtime/workflow.js";
import { eventually, type Harness, untilStatus } from "../helpers/harness.js";
import { at, dslHarness, type RecordingServer, startRecordingServer } from "./helpers.js";

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

const run = async (name: string, input: unknown, runId: string) => {
  await h!.engine.startRun(name, input, { runId });
  return h!.engine.waitForFinish(runId, 10_000);
};

describe("dsl: http", () => {
  it("sends method, templated url, headers, query and JSON body, with Idempotency-Key and traceparent", async () => {
    h = await dslHarness([
      `name: h1
steps:
  - id: call
    http:
      method: PUT
      url: "{{ input.base }}/orders/{{ input.id }}"
      headers: { x-tenant: "t-{{ input.tenant }}" }
      query: { verbose: true, page: "{{ 1 + 1 }}" }
      body: { amount: "{{ input.amount * 2 }}", note: "order {{ input.id }}" }
    output: "{{ result.body.body }}"
`,
    ]);
    const r = await run("h1", at(server, { id: "o-7", tenant: "acme", amount: 21 }), "h1-run");
    assert.equal(r.status, "completed", JSON.stringify(r.error));
    assert.deepEqual(r.output, { amount: 42, note: "order o-7" });
    const [req] = server.to("/orders/o-7");
    assert.equal(req.method, "PUT");
    assert.equal(req.headers["x-tenant"], "t-acme");
    assert.deepEqual(req.query, { verbose: "true", page: "2" });
    assert.equal(req.headers["idempotency-key"], "h1-run:0");
    assert.match(req.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.equal(req.headers["content-type"], "application/json");
  });

  it("carries the engine's trace context when tracing is configured", async () => {
    const calls: { runId: string; seq: number; attempt: number; kind: string }[] = [];
    const fixed = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
    h = await dslHarness(
      [
        `name: h-traced
steps:
  - id: call
    http: { method: POST, url: "{{ input.base }}/traced", body: { a: 1 } }
`,
      ],
      {
        traceparent: (c) => (
          calls.push({ runId: c.runId, seq: c.seq, attempt: c.attempt, kind: c.kind }), fixed
        ),
      },
    );
    const r = await run("h-traced", at(server, {}), "traced-run");
    assert.equal(r.status, "completed", JSON.stringify(r.error));
    const [req] = server.to("/traced");
    assert.equal(req.headers.traceparent, fixed);
    assert.deepEqual(calls, [{ runId: "traced-run", seq: 0, attempt: 1, kind: "http" }]);
  });

  it("treats listed statuses as success and fails at once on another 4xx", async () => {
    server.script("/missing", [{ status: 404, body: { error: "nope" } }]);
    server.script("/gone", [{ status: 410, body: { error: "gone" } }]);
    h = await dslHarness([
      `name: h2
steps:
  - id: lookup
    http: { url: "{{ input.base }}/missing", successStatus: [200, 404] }
    output: "{{ result.status }}"
  - id: gone
    http: { method: DELETE, url: "{{ input.base }}/gone" }
    retry: { maxAttempts: 5 }
`,
    ]);
    const r = await run("h2", at(server), "h2-run");
    assert.equal(r.status, "failed");
    assert.equal((r.error!.details as any).cause.code, "HTTP_410");
    assert.equal(server.to("/gone").length, 1, "a 4xx is not retried");
    const journal = await h.store.loadJournal("h2-run");
    assert.deepEqual(journal[0].result, {
      status: 404,
      headers: journal[0].result && (journal[0].result as any).headers,
      body: { error: "nope" },
    });
  });

  it("retries 503 and 429 honouring Retry-After, under the same key", async () => {
    server.script("/flaky", [
      { status: 503, headers: { "retry-after": "30" }, body: { e: 1 } },
      { status: 429, headers: { "retry-after": "60" }, body: { e: 2 } },
      { status: 200, body: { ok: true } },
    ]);
    h = await dslHarness([
      `name: h3
steps:
  - id: flaky
    http: { method: POST, url: "{{ input.base }}/flaky", body: {} }
    retry: { maxAttempts: 5, initialInterval: 1s, jitter: 0 }
    output: "{{ result.body }}"
`,
    ]);
    await h.engine.startRun("h3", at(server), { runId: "h3-run" });
    await untilStatus(h, "h3-run", "waiting");
    await h.clock.advance(29_000);
    assert.equal(server.to("/flaky").length, 1, "not before Retry-After (30 s), though the backoff is 1 s");
    await h.clock.advance(1_000);
    await untilStatus(h, "h3-run", "waiting");
    assert.equal(server.to("/flaky").length, 2);
    await h.clock.advance(59_000);
    assert.equal(server.to("/flaky").length, 2, "429: not before its Retry-After either");
    await h.clock.advance(1_000);
    const r = await h.engine.waitForFinish("h3-run", 5_000);
    assert.deepEqual(r.output, { ok: true });
    assert.deepEqual(
      server.to("/flaky").map((q) => q.headers["idempotency-key"]),
      ["h3-run:0", "h3-run:0", "h3-run:0"],
    );
    const attempts = (await h.client.history("h3-run")).attempts.map((a) => a.error.code);
    assert.deepEqual(attempts, ["HTTP_503", "HTTP_429"]);
  });

  it("retries connection errors, then fails when the attempts run out", async () => {
    h = await dslHarness([
      `name: h4
steps:
  - id: down
    http: { url: "http://127.0.0.1:1/nothing-listens-here" }
    retry: { maxAttempts: 2, initialInterval: 1s, jitter: 0 }
`,
    ]);
    await h.engine.startRun("h4", {}, { runId: "h4-run" });
    await untilStatus(h, "h4-run", "waiting");
    await h.clock.advance(1_000);
    const r = await h.engine.waitForFinish("h4-run", 5_000);
    assert.equal(r.status, "failed");
    const hist = await h.client.history("h4-run");
    assert.deepEqual(
      hist.attempts.map((a) => a.error.code),
      ["HTTP_CONNECTION", "HTTP_CONNECTION"],
    );
    assert.equal((r.error!.details as any).cause.code, "HTTP_CONNECTION");
  });

  it("bounds each attempt with its timeout", async () => {
    server.script("/slow", [{ delayMs: 2_000, body: { late: true } }]);
    h = await dslHarness([
      `name: h5
steps:
  - id: slow
    http: { url: "{{ input.base }}/slow" }
    timeout: 100ms
    retry: { maxAttempts: 1 }
`,
    ]);
    const started = Date.now();
    const r = await run("h5", at(server), "h5-run");
    assert.equal(r.status, "failed");
    assert.ok(Date.now() - started < 1_500, "the attempt was cut short");
    assert.match(r.error!.message, /slow/);
  });
});

describe("dsl: task, switch, set, output", () => {
  it("hands a task to a worker queue with templated input and uses its result", async () => {
    h = await dslHarness([
      `name: t1
steps:
  - id: label
    task: { queue: labels, input: { order: "{{ input.id }}", weight: "{{ input.kg * 1000 }}" }, priority: 5 }
    retry: { maxAttempts: 2 }
  - id: done
    set: { tracking: "{{ steps.label.output.tracking }}" }
output: "{{ vars.tracking }}"
`,
    ]);
    await h.engine.startRun("t1", { id: "o1", kg: 1.5 }, { runId: "t1-run" });
    await untilStatus(h, "t1-run", "waiting");
    const [task] = await h.engine.tasks.poll({ queue: "labels", workerId: "w" });
    assert.deepEqual(task.input, { order: "o1", weight: 1500 });
    assert.equal(task.idempotencyKey, "t1-run:0");
    await h.engine.tasks.complete(task.taskId, task.leaseToken, { tracking: "TRK-9" });
    const r = await h.engine.waitForFinish("t1-run", 5_000);
    assert.equal(r.output, "TRK-9");
  });

  it("switch takes the first true case, else the default; set assigns and transforms", async () => {
    h = await dslHarness([
      `name: s1
steps:
  - id: totals
    set:
      total: "{{ $sum(input.lines.(qty * price)) }}"
      names: "{{ input.lines.name }}"
  - id: route
    switch:
      cases:
        - when: vars.total > 100
          steps:
            - { id: big, set: { size: large } }
        - when: "{{ vars.total > 10 }}"
          steps:
            - { id: mid, set: { size: medium } }
      default:
        - { id: small, set: { size: small } }
output: { total: "{{ vars.total }}", size: "{{ vars.size }}", names: "{{ vars.names }}", route: "{{ steps.route.output }}" }
`,
    ]);
    const lines = (qty: number) => [
      { name: "a", qty, price: 2 },
      { name: "b", qty: 1, price: 1 },
    ];
    const a = await run("s1", { lines: lines(100) }, "s1-a");
    assert.deepEqual(a.output, { total: 201, size: "large", names: ["a", "b"], route: { size: "large" } });
    assert.equal(((await run("s1", { lines: lines(5) }, "s1-b")).output as any).size, "medium");
    assert.equal(((await run("s1", { lines: lines(1) }, "s1-c")).output as any).size, "small");
    assert.deepEqual(await h.store.loadJournal("s1-a"), [], "pure steps write nothing to the journal");
  });
});

describe("dsl: parallel and forEach", () => {
  it("parallel join all: branches of several calls each; output per branch; deterministic replay", async () => {
    server.script("/p/a1", [{ delayMs: 40, body: { v: "a1" } }]);
    server.script("/p/b1", [{ delayMs: 5, body: { v: "b1" } }]);
    const src = `name: p1
steps:
  - id: fan
    parallel:
      branches:
        - name: left
          steps:
            - { id: a1, http: { url: "{{ input.base }}/p/a1" }, output: "{{ result.body.v }}" }
            - { id: a2, http: { url: "{{ input.base }}/p/a2?from={{ steps.a1.output }}" }, output: "{{ result.body.query.from }}" }
        - name: right
          steps:
            - { id: b1, http: { url: "{{ input.base }}/p/b1" }, output: "{{ result.body.v }}" }
            - { id: b2, http: { url: "{{ input.base }}/p/b2?from={{ steps.b1.output }}" }, output: "{{ result.body.query.from }}" }
            - { id: hold, waitForSignal: { signal: go } }
  - id: after
    set: { seen: "{{ [steps.a2.output, steps.b2.output] }}" }
output: { fan: "{{ steps.fan.output }}", seen: "{{ vars.seen }}" }
`;
    h = await dslHarness([src], { maxCachedRuns: 0 });
    await h.engine.startRun("p1", at(server), { runId: "p1-run" });
    await untilStatus(h, "p1-run", "waiting");
    // Drop the hot copy: the signal resumes from the journal, replaying both branches.
    await h.restart([]);
    await loadDefinitions(h.engine);
    await h.engine.signal("p1-run", "go", "green");
    const r = await h.engine.waitForFinish("p1-run", 5_000);
    assert.equal(r.status, "completed", JSON.stringify(r.error));
    assert.deepEqual(r.output, { fan: ["a1", "green"], seen: ["a1", "b1"] });
    for (const p of ["/p/a1", "/p/a2", "/p/b1", "/p/b2"])
      assert.equal(server.to(p).length, 1, `${p} called once`);
    // The order in which settled branches went on is journaled, so the replay above matched.
    const journal = await h.store.loadJournal("p1-run");
    assert.ok(journal.some((e) => e.name === "fan:next"));
    assert.deepEqual(h.errors, []);
  });

  it("parallel join first: the first branch to succeed wins", async () => {
    server.script("/race/fast", [{ delayMs: 5, body: { who: "fast" } }]);
    h = await dslHarness([
      `name: p2
steps:
  - id: race
    parallel:
      join: first
      branches:
        - steps: [{ id: approval, waitForSignal: { signal: approve } }]
        - steps: [{ id: fast, http: { url: "{{ input.base }}/race/fast" }, output: "{{ result.body.who }}" }]
output: "{{ steps.race.output }}"
`,
    ]);
    const r = await run("p2", at(server), "p2-run");
    assert.deepEqual(r.output, { branch: 1, output: "fast" });
  });

  it("forEach runs every item, at most `concurrency` at once, output in item order", async () => {
    for (let i = 0; i < 6; i++) server.script(`/item/${i}`, [{ delayMs: 30 - i * 4, body: { n: i } }]);
    h = await dslHarness([
      `name: f1
steps:
  - id: each
    forEach:
      items: input.ids
      as: id
      concurrency: 2
      steps:
        - { id: get, http: { url: "{{ input.base }}/item/{{ id }}" }, output: "{{ result.body.n * 10 + index }}" }
output: "{{ steps.each.output }}"
`,
    ]);
    const r = await run("f1", at(server, { ids: [0, 1, 2, 3, 4, 5] }), "f1-run");
    assert.equal(r.status, "completed", JSON.stringify(r.error));
    assert.deepEqual(r.output, [0, 11, 22, 33, 44, 55]);
    assert.equal(server.maxInFlight("/item"), 2);
    const names = (await h.store.loadJournal("f1-run"))
      .filter((e) => e.name.startsWith("get"))
      .map((e) => e.name);
    assert.deepEqual([...names].sort(), ["get[0]", "get[1]", "get[2]", "get[3]", "get[4]", "get[5]"]);
  });
  it("forEach with a bound replays the same after a restart, mid-way through its items", async () => {
    for (let i = 0; i < 4; i++) server.script(`/slot/${i}`, [{ delayMs: 40 - i * 10, body: { n: i } }]);
    h = await dslHarness(
      [
        `name: f2
steps:
  - id: each
    forEach:
      items: "[0, 1, 2, 3]"
      concurrency: 2
      steps:
        - { id: get, http: { url: "{{ input.base }}/slot/{{ item }}" }, output: "{{ result.body.n }}" }
        - { id: ack, waitForSignal: { signal: ack } }
        - { id: both, set: { v: "{{ steps.get.output * 100 + steps.ack.output }}" } }
output: "{{ steps.each.output.v }}"
`,
      ],
      { maxCachedRuns: 0 },
    );
    await h.engine.startRun("f2", at(server), { runId: "f2-run" });
    await untilStatus(h, "f2-run", "waiting");
    await h.restart([]);
    await loadDefinitions(h.engine);
    for (let i = 1; i <= 4; i++) {
      await h.engine.signal("f2-run", "ack", i);
      await new Promise((r) => setTimeout(r, 60));
    }
    const r = await h.engine.waitForFinish("f2-run", 5_000);
    assert.equal(r.status, "completed", JSON.stringify(r.error));
    const out = r.output as number[];
    assert.deepEqual(
      out.map((v) => Math.floor(v / 100)),
      [0, 1, 2, 3],
    );
    assert.deepEqual([...out.map((v) => v % 100)].sort(), [1, 2, 3, 4], "each item consumed one signal");
    for (let i = 0; i < 4; i++) assert.equal(server.to(`/slot/${i}`).length, 1);
    assert.deepEqual(h.errors, []);
  });

  it("forEach: an item consuming an arrived signal beside another item's wait keeps the run", async () => {
    // Item 0 waits durably for "ack" while item 1's request is still out; the one "ack" is sent then.
    // When item 1 reaches its waitForSignal, the consumeSignal write finds that signal. The idle check
    // scheduled by the group's order step runs while that write is out, with item 0's wait open: it
    // must not suspend the run, or the group's next order step runs on a suspended execution and the
    // run is lost (STALE_FENCE), as the test above once was.
    server.script("/f3/0", [{ body: { n: 0 } }]);
    server.script("/f3/1", [{ delayMs: 400, body: { n: 1 } }]);
    h = await dslHarness([
      `name: f3
steps:
  - id: each
    forEach:
      items: "[0, 1]"
      concurrency: 2
      steps:
        - { id: get, http: { url: "{{ input.base }}/f3/{{ item }}" }, output: "{{ result.body.n }}" }
        - { id: ack, waitForSignal: { signal: ack } }
        - { id: both, set: { v: "{{ steps.get.output * 100 + steps.ack.output }}" } }
output: "{{ steps.each.output.v }}"
`,
    ]);
    await h.engine.startRun("f3", at(server), { runId: "f3-run" });
    await eventually(async () => {
      const journal = await h!.store.loadJournal("f3-run");
      return journal.some((e) => e.kind === "signal" && e.status === "waiting");
    }, "item 0 to wait for its signal");
    await h.engine.signal("f3-run", "ack", 1);
    await untilStatus(h, "f3-run", "waiting");
    await h.engine.signal("f3-run", "ack", 2);
    const r = await h.engine.waitForFinish("f3-run", 5_000);
    assert.equal(r.status, "completed", JSON.stringify(r.error));
    assert.deepEqual(r.output, [2, 101]);
    assert.deepEqual(h.errors, []);
  });
});

describe("dsl: waits, signals, sub-workflows, fail, succeed, onFailure", () => {
  it("wait sleeps for a duration and until a time, durably", async () => {
    h = await dslHarness([
      `name: w1
steps:
  - { id: pause, wait: { duration: "{{ input.delay }}" } }
  - { id: until, wait: { until: "{{ input.at }}" } }
  - { id: done, set: { ok: true } }
`,
    ]);
    const t0 = h.clock.now();
    await h.engine.startRun(
      "w1",
      { delay: "10m", at: new Date(t0 + 3_600_000).toISOString() },
      { runId: "w1-run" },
    );
    await untilStatus(h, "w1-run", "waiting");
    await h.clock.advance(9 * 60_000);
    assert.equal((await h.store.getRun("w1-run"))!.status, "waiting");
    await h.clock.advance(60_000);
    await untilStatus(h, "w1-run", "waiting");
    const journal = await h.store.loadJournal("w1-run");
    assert.deepEqual(
      journal.map((e) => [e.name, e.status]),
      [
        ["pause", "completed"],
        ["until", "waiting"],
      ],
    );
    assert.equal(journal[1].wakeAt, t0 + 3_600_000);
    await h.clock.advance(50 * 60_000);
    assert.equal((await h.engine.waitForFinish("w1-run", 5_000)).status, "completed");
  });

  it("waitForSignal returns the payload, or the default on timeout, or fails without one", async () => {
    h = await dslHarness([
      `name: g1
steps:
  - id: answer
    waitForSignal: { signal: approval, timeout: 1h, default: { approved: false, why: timeout } }
output: "{{ steps.answer.output }}"
`,
      `name: g2
steps:
  - { id: answer, waitForSignal: { timeout: 1h } }
`,
    ]);
    await h.engine.startRun("g1", {}, { runId: "g1-a" });
    await untilStatus(h, "g1-a", "waiting");
    await h.engine.signal("g1-a", "approval", { approved: true });
    assert.deepEqual((await h.engine.waitForFinish("g1-a", 5_000)).output, { approved: true });
    await h.engine.startRun("g1", {}, { runId: "g1-b" });
    await h.engine.startRun("g2", {}, { runId: "g2-a" });
    await untilStatus(h, "g1-b", "waiting");
    await untilStatus(h, "g2-a", "waiting");
    await h.clock.advance(3_600_000);
    assert.deepEqual((await h.engine.waitForFinish("g1-b", 5_000)).output, {
      approved: false,
      why: "timeout",
    });
    const g2 = await h.engine.waitForFinish("g2-a", 5_000);
    assert.equal(g2.status, "failed");
    assert.equal(g2.error?.code, "SIGNAL_TIMEOUT");
  });

  it("subWorkflow runs a deployed definition as a child run", async () => {
    h = await dslHarness([
      `name: child-quote
steps:
  - { id: price, http: { url: "{{ input.base }}/quote/{{ input.sku }}" }, output: "{{ result.body.path }}" }
output: { sku: "{{ input.sku }}", from: "{{ steps.price.output }}" }
`,
      `name: parent
steps:
  - id: quote
    subWorkflow: { workflow: child-quote, input: { base: "{{ input.base }}", sku: "{{ input.sku }}" } }
output: "{{ steps.quote.output }}"
`,
    ]);
    const r = await run("parent", at(server, { sku: "X1" }), "parent-run");
    assert.deepEqual(r.output, { sku: "X1", from: "/quote/X1" });
    const child = await h.store.getRun("parent-run:0");
    assert.equal(child?.workflow, "child-quote");
    assert.equal(child?.parentRunId, "parent-run");
  });

  it("fail ends the run with its code; succeed ends it early with an output", async () => {
    h = await dslHarness([
      `name: e1
steps:
  - id: check
    switch:
      cases:
        - when: input.qty <= 0
          steps: [{ id: bad, fail: { code: BAD_QTY, message: "quantity {{ input.qty }} is not positive", details: { qty: "{{ input.qty }}" } } }]
        - when: input.qty > 99
          steps: [{ id: bulk, succeed: { output: { bulk: true } } }]
  - { id: normal, set: { bulk: false } }
output: { bulk: "{{ vars.bulk }}" }
`,
    ]);
    const bad = await run("e1", { qty: 0 }, "e1-a");
    assert.equal(bad.status, "failed");
    assert.equal(bad.error?.code, "BAD_QTY");
    assert.equal(bad.error?.message, "quantity 0 is not positive");
    assert.deepEqual(bad.error?.details, { qty: 0 });
    assert.deepEqual((await run("e1", { qty: 500 }, "e1-b")).output, { bulk: true });
    assert.deepEqual((await run("e1", { qty: 5 }, "e1-c")).output, { bulk: false });
  });

  it("onFailure steps run with the error, then the run fails with it", async () => {
    server.script("/boom", [{ status: 400, body: { reason: "bad request" } }]);
    h = await dslHarness([
      `name: of1
steps:
  - { id: boom, http: { url: "{{ input.base }}/boom" } }
onFailure:
  - id: alert
    http:
      method: POST
      url: "{{ input.base }}/alert"
      body: { code: "{{ error.code }}", message: "{{ error.message }}" }
`,
    ]);
    const r = await run("of1", at(server), "of1-run");
    assert.equal(r.status, "failed");
    assert.equal(r.error?.code, "STEP_FAILED");
    const [alert] = server.to("/alert");
    assert.deepEqual(alert.body, { code: "STEP_FAILED", message: r.error?.message });
  });

  it("refuses a start whose input does not match the input schema", async () => {
    h = await dslHarness([
      `name: in1
input: { type: object, required: [id], properties: { id: { type: string } } }
steps: [{ id: x, set: { id: "{{ input.id }}" } }]
`,
    ]);
    await assert.rejects(h.engine.startRun("in1", { id: 7 }), { code: "INVALID_INPUT" });
    assert.equal((await run("in1", { id: "ok" }, "in1-run")).status, "completed");
  });

  it("an expression error fails the run with EXPRESSION_ERROR naming where", async () => {
    h = await dslHarness([
      `name: x1
steps:
  - { id: calc, set: { n: "{{ $number(input.text) }}" } }
`,
    ]);
    const r = await run("x1", { text: "abc" }, "x1-run");
    assert.equal(r.status, "failed");
    assert.equal(r.error?.code, "EXPRESSION_ERROR");
    assert.match(r.error!.message, /steps\[0\]\.set\.n/);
  });

  it("refuses to deploy over a code workflow of the same name", async () => {
    h = await dslHarness([]);
    h.engine.register(workflow("coded", async () => 1));
    await assert.rejects(deployDefinition(h.engine, "name: coded\nsteps: [{ id: a, set: { x: 1 } }]\n"), {
      code: "INVALID_DEFINITION",
    });
  });
});
