// Saga compensation of DSL steps: reverse order on failure and on cancel, with the step's output in the
// compensation's context, http and task compensations, and steps in parallel branches.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { type Harness, untilStatus } from "../helpers/harness.js";
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

/** A step that POSTs /do/<id> and is compensated by POST /undo/<id> with its output; `pad` indents it. */
const step = (id: string, pad = "") => `${pad}  - id: ${id}
${pad}    http: { method: POST, url: "{{ input.base }}/do/${id}", body: { ref: "${id}-{{ input.n }}" } }
${pad}    output: "{{ result.body.body.ref }}"
${pad}    compensate:
${pad}      http: { method: POST, url: "{{ input.base }}/undo/${id}", body: { ref: "{{ steps.${id}.output }}", order: "{{ input.n }}" } }
`;

const undone = (n: number) =>
  server.requests
    .filter((r) => r.path.startsWith("/undo/") && (r.body as any).order === n)
    .map((r) => (r.body as any).ref);

describe("dsl: compensation", () => {
  it("on failure, compensates completed steps in reverse order with their outputs", async () => {
    server.script("/do/d", [{ status: 422, body: { error: "out of stock" } }]);
    h = await dslHarness([
      `name: saga1
steps:
${step("a")}${step("b")}  - { id: plain, http: { url: "{{ input.base }}/do/plain" } }
${step("c")}${step("d")}`,
    ]);
    await h.engine.startRun("saga1", at(server, { n: 1 }), { runId: "saga1-1" });
    const run = await h.engine.waitForFinish("saga1-1", 5_000);
    assert.equal(run.status, "failed");
    assert.equal((run.error!.details as any).cause.code, "HTTP_422");
    assert.deepEqual(undone(1), ["c-1", "b-1", "a-1"], "d never completed, plain has no compensation");
    const undo = server.requests.find((r) => r.path === "/undo/a")!;
    assert.equal(undo.headers["idempotency-key"], "saga1-1:1000000000", "each compensation has its own key");
    const hist = await h.client.history("saga1-1");
    assert.deepEqual(
      hist.journal
        .filter((e) => e.kind === "undo")
        .map((e) => [e.name, e.status])
        .sort(),
      [
        ["undo:a", "completed"],
        ["undo:b", "completed"],
        ["undo:c", "completed"],
      ],
    );
  });

  it("on cancel while waiting, compensates in reverse order and ends cancelled", async () => {
    h = await dslHarness([
      `name: saga2
steps:
${step("a")}${step("b")}  - { id: hold, waitForSignal: { signal: go } }
${step("c")}`,
    ]);
    await h.engine.startRun("saga2", at(server, { n: 2 }), { runId: "saga2-1" });
    await untilStatus(h, "saga2-1", "waiting");
    await h.engine.cancel("saga2-1");
    const run = await h.engine.waitForFinish("saga2-1", 5_000);
    assert.equal(run.status, "cancelled");
    assert.deepEqual(undone(2), ["b-2", "a-2"]);
  });

  it("compensates steps of parallel branches too, in reverse of their recorded order", async () => {
    server.script("/do/slow", [{ delayMs: 60 }]);
    server.script("/do/boom", [{ status: 400, delayMs: 120 }]);
    h = await dslHarness([
      `name: saga3
steps:
${step("first")}  - id: fan
    parallel:
      branches:
        - steps:
${step("slow", "          ")}        - steps:
${step("quick", "          ")}        - steps:
            - { id: boom, http: { url: "{{ input.base }}/do/boom" } }
`,
    ]);
    await h.engine.startRun("saga3", at(server, { n: 3 }), { runId: "saga3-1" });
    const run = await h.engine.waitForFinish("saga3-1", 5_000);
    assert.equal(run.status, "failed");
    // Undos run latest recorded completion first, then highest seq first: the test clock does not move,
    // so both branches' completions carry the same time and the later-started branch is undone first.
    // (Live completion order is not used: it differs on replay.)
    assert.deepEqual(undone(3), ["quick-3", "slow-3", "first-3"]);
  });

  it("a task compensation is handed to a worker queue", async () => {
    h = await dslHarness([
      `name: saga4
steps:
  - id: reserve
    task: { queue: stock, input: { sku: "{{ input.sku }}" } }
    compensate:
      task: { queue: stock-release, input: { reservation: "{{ steps.reserve.output.id }}" } }
  - { id: fail, fail: { message: nope } }
`,
    ]);
    await h.engine.startRun("saga4", { sku: "S1" }, { runId: "saga4-1" });
    await untilStatus(h, "saga4-1", "waiting");
    const [t] = await h.engine.tasks.poll({ queue: "stock", workerId: "w" });
    await h.engine.tasks.complete(t.taskId, t.leaseToken, { id: "res-1" });
    let release: Awaited<ReturnType<typeof h.engine.tasks.poll>> = [];
    for (let i = 0; i < 200 && release.length === 0; i++) {
      release = await h.engine.tasks.poll({ queue: "stock-release", workerId: "w", waitMs: 0 });
      if (release.length === 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(release.length, 1);
    assert.deepEqual(release[0].input, { reservation: "res-1" });
    await h.engine.tasks.complete(release[0].taskId, release[0].leaseToken, { released: true });
    const run = await h.engine.waitForFinish("saga4-1", 5_000);
    assert.equal(run.status, "failed");
    const undo = (await h.client.history("saga4-1")).journal.find((e) => e.kind === "undo");
    assert.equal(undo?.status, "completed");
    assert.deepEqual(undo?.result, { released: true });
  });
});
