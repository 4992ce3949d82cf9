// The store contract: the write operations of runs (create, journal, signals, children, suspend,
// finish, and events from outside).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ContractHelpers, LEASE, T0 } from "./helpers.js";

export function runOpsContract(h: ContractHelpers): void {
  const {
    store,
    one,
    newRun,
    create,
    getRun,
    entry,
    put,
    complete,
    suspend,
    deliver,
    consume,
    claimAll,
    expectRun,
  } = h;

  // ---- createRun -------------------------------------------------------------------------------

  describe("createRun", () => {
    it("creates a pending run that is due at once", async () => {
      await create("r1", { deadlineAt: T0 + 60_000 });
      expectRun(await getRun("r1"), {
        runId: "r1",
        workflow: "wf",
        version: "1",
        status: "pending",
        input: { id: "r1" },
        output: undefined,
        error: undefined,
        owner: undefined,
        fence: 0,
        leaseExpiresAt: undefined,
        wakeAt: T0,
        cancelRequested: false,
        deadlineAt: T0 + 60_000,
        parentRunId: undefined,
        parentSeq: undefined,
        createdAt: T0,
        startedAt: undefined,
        updatedAt: T0,
        completedAt: undefined,
      });
    });

    it("with a claim, the new run is owned by that node at once with fence 1", async () => {
      await create("r1", {}, "node-a");
      expectRun(await getRun("r1"), {
        status: "running",
        owner: "node-a",
        fence: 1,
        leaseExpiresAt: T0 + LEASE,
        wakeAt: undefined,
        startedAt: T0,
      });
      // Owned with a live lease: nobody else can claim it.
      assert.deepEqual(await claimAll("node-b", T0 + 1), []);
    });

    it("an existing id is not created again: created false, with the stored run unchanged", async () => {
      await create("r1", { inputJson: '{"first":true}' });
      const again = await one({
        type: "createRun",
        run: newRun("r1", { workflow: "other", inputJson: '{"second":true}', now: T0 + 5 }),
        claim: { nodeId: "node-a", leaseMs: LEASE },
      });
      assert.ok(again.ok);
      assert.equal(again.created, false);
      const stored = await getRun("r1");
      assert.deepEqual(again.run, stored);
      expectRun(stored, {
        workflow: "wf",
        input: { first: true },
        status: "pending",
        owner: undefined,
        fence: 0,
      });
    });

    it("keeps the input JSON as given, and times as numbers", async () => {
      const text = '{"b":1,"a":[1.5,"é ✓ \\u2028",null],"big":9007199254740991,"nested":{"z":{},"y":[]}}';
      await create("r1", { inputJson: text });
      const run = await getRun("r1");
      assert.deepEqual(run.input, JSON.parse(text));
      assert.deepEqual(Object.keys(run.input as object), ["b", "a", "big", "nested"]);
      assert.equal(typeof run.createdAt, "number");
      assert.equal(typeof run.fence, "number");
    });

    it("a run without input has input undefined", async () => {
      await create("r1", { inputJson: null });
      assert.equal((await getRun("r1")).input, undefined);
    });

    it("records the parent link", async () => {
      await create("parent", {}, "node-a");
      await create("child", { parentRunId: "parent", parentSeq: 3 });
      expectRun(await getRun("child"), { parentRunId: "parent", parentSeq: 3 });
    });
  });

  // ---- putEntry --------------------------------------------------------------------------------

  describe("putEntry", () => {
    it("writes a journal entry with its fields decoded", async () => {
      await create("r1", {}, "node-a");
      const e = entry(0, {
        kind: "sleep",
        name: "nap",
        status: "waiting",
        attempt: 0,
        resultJson: null,
        wakeAt: T0 + 5_000,
        detailJson: JSON.stringify({ node: "node-a" }),
        startedAt: T0 + 1,
        updatedAt: T0 + 2,
      });
      assert.deepEqual(await put("r1", 1, e), { ok: true });
      assert.deepEqual(await store().loadJournal("r1"), [
        {
          seq: 0,
          kind: "sleep",
          name: "nap",
          status: "waiting",
          attempt: 0,
          wakeAt: T0 + 5_000,
          detail: { node: "node-a" },
          startedAt: T0 + 1,
          updatedAt: T0 + 2,
        },
      ]);
    });

    it("upserts the entry at (runId, seq): the new outcome replaces the old, startedAt stays", async () => {
      await create("r1", {}, "node-a");
      await put("r1", 1, entry(0, { status: "retrying", attempt: 1, resultJson: null, wakeAt: T0 + 100 }));
      const error = { name: "Error", message: "boom" };
      await put(
        "r1",
        1,
        entry(0, {
          status: "failed",
          attempt: 2,
          resultJson: null,
          errorJson: JSON.stringify(error),
          detailJson: JSON.stringify({ hasUndo: true }),
          startedAt: T0 + 50,
          updatedAt: T0 + 200,
        }),
      );
      const journal = await store().loadJournal("r1");
      assert.equal(journal.length, 1);
      assert.deepEqual(journal[0], {
        seq: 0,
        kind: "step",
        name: "step-0",
        status: "failed",
        attempt: 2,
        error,
        detail: { hasUndo: true },
        startedAt: T0,
        updatedAt: T0 + 200,
      });
    });

    it("records a failed attempt beside the entry, replacing the same (seq, attempt)", async () => {
      await create("r1", {}, "node-a");
      const err = (message: string) => JSON.stringify({ name: "Error", message });
      const attempt = (seq: number, n: number, message: string, node?: string) =>
        one({
          type: "putEntry",
          runId: "r1",
          fence: 1,
          entry: entry(seq, { status: "retrying", attempt: n, resultJson: null }),
          failedAttempt: {
            seq,
            attempt: n,
            startedAt: T0 + n,
            endedAt: T0 + n + 1,
            errorJson: err(message),
            node,
          },
        });
      assert.deepEqual(await attempt(1, 2, "second", "node-a"), { ok: true });
      assert.deepEqual(await attempt(1, 1, "first"), { ok: true });
      assert.deepEqual(await attempt(0, 1, "other step"), { ok: true });
      assert.deepEqual(await attempt(1, 1, "first, rewritten", "node-b"), { ok: true });
      assert.deepEqual(await store().listAttempts("r1"), [
        {
          runId: "r1",
          seq: 0,
          attempt: 1,
          startedAt: T0 + 1,
          endedAt: T0 + 2,
          error: { name: "Error", message: "other step" },
          node: undefined,
        },
        {
          runId: "r1",
          seq: 1,
          attempt: 1,
          startedAt: T0 + 1,
          endedAt: T0 + 2,
          error: { name: "Error", message: "first, rewritten" },
          node: "node-b",
        },
        {
          runId: "r1",
          seq: 1,
          attempt: 2,
          startedAt: T0 + 2,
          endedAt: T0 + 3,
          error: { name: "Error", message: "second" },
          node: "node-a",
        },
      ]);
      assert.deepEqual(await store().listAttempts("other"), []);
    });

    it("refuses a stale fence and writes nothing", async () => {
      await create("r1", {}, "node-a");
      const r = await one({
        type: "putEntry",
        runId: "r1",
        fence: 0,
        entry: entry(0),
        failedAttempt: { seq: 0, attempt: 1, startedAt: T0, endedAt: T0, errorJson: "{}" },
      });
      assert.deepEqual(r, { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await put("r1", 2, entry(0)), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await store().loadJournal("r1"), []);
      assert.deepEqual(await store().listAttempts("r1"), []);
    });

    it("refuses an unknown run", async () => {
      assert.deepEqual(await put("nope", 1, entry(0)), { ok: false, code: "RUN_NOT_FOUND" });
      assert.deepEqual(await store().loadJournal("nope"), []);
    });

    it("refuses a finished run, naming its status", async () => {
      await create("r1", {}, "node-a");
      await complete("r1", 1);
      assert.deepEqual(await put("r1", 1, entry(0)), {
        ok: false,
        code: "RUN_FINISHED",
        status: "completed",
      });
      assert.deepEqual(await store().loadJournal("r1"), []);
    });
  });

  // ---- consumeSignal ---------------------------------------------------------------------------

  describe("consumeSignal", () => {
    it("consumes a signal buffered before the wait and completes the wait's entry with it", async () => {
      await create("r1", {}, "node-a");
      const sent = await deliver("r1", "approval", { ok: true }, T0 + 1);
      assert.ok(sent.ok && typeof sent.signalId === "number");
      const waiting = entry(4, {
        kind: "signal",
        name: "wait-4",
        status: "waiting",
        attempt: 0,
        startedAt: T0 + 2,
      });
      const r = await one({
        type: "consumeSignal",
        runId: "r1",
        fence: 1,
        seq: 4,
        name: "wait-4",
        signalName: "approval",
        now: T0 + 3,
        waitingEntry: waiting,
      });
      assert.deepEqual(r, { ok: true, consumed: true, payload: { ok: true } });
      assert.deepEqual(await store().loadJournal("r1"), [
        {
          seq: 4,
          kind: "signal",
          name: "wait-4",
          status: "completed",
          attempt: 0,
          result: { ok: true },
          detail: { signalName: "approval", signalId: sent.signalId },
          startedAt: T0 + 2,
          updatedAt: T0 + 3,
        },
      ]);
      assert.deepEqual(await store().listSignals("r1"), [
        {
          id: sent.signalId,
          runId: "r1",
          name: "approval",
          payload: { ok: true },
          receivedAt: T0 + 1,
          consumedSeq: 4,
        },
      ]);
    });

    it("consumes signals of one name oldest first, and leaves other names alone", async () => {
      await create("r1", {}, "node-a");
      await deliver("r1", "a", "a1");
      await deliver("r1", "b", "b1");
      await deliver("r1", "a", "a2");
      assert.deepEqual(await consume("r1", 1, 0, "a"), { ok: true, consumed: true, payload: "a1" });
      assert.deepEqual(await consume("r1", 1, 1, "a"), { ok: true, consumed: true, payload: "a2" });
      assert.deepEqual(await consume("r1", 1, 2, "a"), { ok: true, consumed: false });
      assert.deepEqual(await consume("r1", 1, 3, "b"), { ok: true, consumed: true, payload: "b1" });
      const signals = await store().listSignals("r1");
      assert.deepEqual(
        signals.map((s) => [s.name, s.payload, s.consumedSeq]),
        [
          ["a", "a1", 0],
          ["b", "b1", 3],
          ["a", "a2", 1],
        ],
      );
      assert.ok(signals[0].id < signals[1].id && signals[1].id < signals[2].id);
    });

    it("without a signal, writes the waiting entry (if given) so the wait is durable", async () => {
      await create("r1", {}, "node-a");
      assert.deepEqual(await consume("r1", 1, 0, "go"), { ok: true, consumed: false });
      assert.deepEqual(await store().loadJournal("r1"), []);
      const waiting = entry(0, {
        kind: "signal",
        name: "wait-0",
        status: "waiting",
        attempt: 0,
        resultJson: null,
        wakeAt: T0 + 1_000,
        detailJson: JSON.stringify({ signalName: "go" }),
      });
      assert.deepEqual(await consume("r1", 1, 0, "go", { waitingEntry: waiting }), {
        ok: true,
        consumed: false,
      });
      const [e] = await store().loadJournal("r1");
      assert.equal(e.status, "waiting");
      assert.equal(e.wakeAt, T0 + 1_000);
      assert.deepEqual(e.detail, { signalName: "go" });
    });

    it("a signal arriving after the wait completes the waiting entry on the next consume", async () => {
      await create("r1", {}, "node-a");
      const waiting = entry(0, {
        kind: "signal",
        name: "wait-0",
        status: "waiting",
        attempt: 0,
        resultJson: null,
      });
      await consume("r1", 1, 0, "go", { waitingEntry: { ...waiting, wakeAt: T0 + 1_000 } });
      await deliver("r1", "go", [1, 2], T0 + 4);
      assert.deepEqual(await consume("r1", 1, 0, "go", { now: T0 + 5 }), {
        ok: true,
        consumed: true,
        payload: [1, 2],
      });
      const [e] = await store().loadJournal("r1");
      assert.equal(e.status, "completed");
      assert.deepEqual(e.result, [1, 2]);
      assert.equal(e.wakeAt, undefined);
      assert.equal(e.startedAt, T0);
      assert.equal(e.updatedAt, T0 + 5);
      assert.equal((await store().listSignals("r1"))[0].consumedSeq, 0);
    });

    it("a signal without payload is consumed with payload null", async () => {
      await create("r1", {}, "node-a");
      await deliver("r1", "ping", undefined);
      assert.deepEqual(await consume("r1", 1, 0, "ping"), { ok: true, consumed: true, payload: null });
      assert.equal((await store().listSignals("r1"))[0].payload, undefined);
      assert.equal((await store().loadJournal("r1"))[0].result, undefined);
    });

    it("checks the fence: a stale owner consumes nothing", async () => {
      await create("r1", {}, "node-a");
      await deliver("r1", "go", 1);
      assert.deepEqual(await consume("r1", 7, 0, "go"), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await consume("nope", 1, 0, "go"), { ok: false, code: "RUN_NOT_FOUND" });
      assert.equal((await store().listSignals("r1"))[0].consumedSeq, undefined);
      assert.deepEqual(await store().loadJournal("r1"), []);
    });
  });

  // ---- startChild ------------------------------------------------------------------------------

  describe("startChild", () => {
    const childEntry = (childRunId: string) =>
      entry(2, {
        kind: "child",
        name: "sub",
        status: "waiting",
        attempt: 0,
        resultJson: null,
        detailJson: JSON.stringify({ childRunId, childWorkflow: "kid" }),
      });

    it("writes the parent's entry and creates the child, linked to the parent", async () => {
      await create("p", {}, "node-a");
      const r = await one({
        type: "startChild",
        runId: "p",
        fence: 1,
        entry: childEntry("p:2"),
        child: newRun("p:2", { workflow: "kid", parentRunId: "p", parentSeq: 2, now: T0 + 7 }),
      });
      assert.deepEqual(r, { ok: true, created: true });
      const [e] = await store().loadJournal("p");
      assert.equal(e.kind, "child");
      assert.deepEqual(e.detail, { childRunId: "p:2", childWorkflow: "kid" });
      expectRun(await getRun("p:2"), {
        workflow: "kid",
        status: "pending",
        parentRunId: "p",
        parentSeq: 2,
        wakeAt: T0 + 7,
        owner: undefined,
        fence: 0,
      });
      const page = await store().listRuns({ parentRunId: "p" });
      assert.deepEqual(
        page.runs.map((x) => x.runId),
        ["p:2"],
      );
    });

    it("with a claim, the child is owned at once", async () => {
      await create("p", {}, "node-a");
      await one({
        type: "startChild",
        runId: "p",
        fence: 1,
        entry: childEntry("p:2"),
        child: newRun("p:2", { parentRunId: "p", parentSeq: 2 }),
        claim: { nodeId: "node-a", leaseMs: LEASE },
      });
      expectRun(await getRun("p:2"), {
        status: "running",
        owner: "node-a",
        fence: 1,
        leaseExpiresAt: T0 + LEASE,
      });
    });

    it("an existing child id is returned, not created again", async () => {
      await create("p", {}, "node-a");
      await create("c");
      const r = await one({
        type: "startChild",
        runId: "p",
        fence: 1,
        entry: childEntry("c"),
        child: newRun("c", { parentRunId: "p", parentSeq: 2 }),
      });
      assert.ok(r.ok);
      assert.equal(r.created, false);
      assert.equal(r.run?.runId, "c");
      assert.equal(r.run?.parentRunId, undefined);
      assert.equal((await store().loadJournal("p")).length, 1);
    });

    it("a stale owner starts no child", async () => {
      await create("p", {}, "node-a");
      const r = await one({
        type: "startChild",
        runId: "p",
        fence: 3,
        entry: childEntry("p:2"),
        child: newRun("p:2", { parentRunId: "p", parentSeq: 2 }),
      });
      assert.deepEqual(r, { ok: false, code: "STALE_FENCE" });
      assert.equal(await store().getRun("p:2"), undefined);
      assert.deepEqual(await store().loadJournal("p"), []);
    });
  });

  // ---- suspendRun / releaseRun -----------------------------------------------------------------

  describe("suspendRun", () => {
    it("releases the lease and waits until wakeAt", async () => {
      await create("r1", {}, "node-a");
      assert.deepEqual(await suspend("r1", 1, T0 + 1_000, T0 + 10), { ok: true });
      expectRun(await getRun("r1"), {
        status: "waiting",
        owner: undefined,
        leaseExpiresAt: undefined,
        wakeAt: T0 + 1_000,
        fence: 1,
        updatedAt: T0 + 10,
      });
      assert.deepEqual(await claimAll("node-b", T0 + 999), []);
      const [claimed] = await claimAll("node-b", T0 + 1_000);
      expectRun(claimed, { runId: "r1", owner: "node-b", fence: 2, status: "running", wakeAt: undefined });
    });

    it("keeps an earlier wake-up from an event that arrived while the run was owned", async () => {
      await create("r1", {}, "node-a");
      await deliver("r1", "go", 1, T0 + 10);
      await suspend("r1", 1, T0 + 1_000, T0 + 20);
      assert.equal((await getRun("r1")).wakeAt, T0 + 10);
      await create("r2", {}, "node-a");
      await deliver("r2", "go", 1, T0 + 10);
      await suspend("r2", 1, undefined, T0 + 20);
      assert.equal((await getRun("r2")).wakeAt, T0 + 10);
    });

    it("takes the given wakeAt when it is earlier than the event's", async () => {
      await create("r1", {}, "node-a");
      await deliver("r1", "go", 1, T0 + 10);
      await suspend("r1", 1, T0 + 5, T0 + 20);
      assert.equal((await getRun("r1")).wakeAt, T0 + 5);
    });

    it("without wakeAt or event, the run waits with no wake-up time and is not claimable", async () => {
      await create("r1", {}, "node-a");
      await suspend("r1", 1);
      expectRun(await getRun("r1"), { status: "waiting", wakeAt: undefined, owner: undefined });
      assert.deepEqual(await claimAll("node-b", T0 + 10 * LEASE), []);
      assert.equal(await store().nextWakeAt(), undefined);
    });

    it("checks the fence", async () => {
      await create("r1", {}, "node-a");
      assert.deepEqual(await suspend("r1", 2, T0 + 5), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await suspend("nope", 1, T0 + 5), { ok: false, code: "RUN_NOT_FOUND" });
      expectRun(await getRun("r1"), { status: "running", owner: "node-a" });
    });
  });

  describe("releaseRun", () => {
    it("gives the run back without a status change, claimable again at once", async () => {
      await create("r1", {}, "node-a");
      assert.deepEqual(await one({ type: "releaseRun", runId: "r1", fence: 1, now: T0 + 30 }), {
        ok: true,
      });
      expectRun(await getRun("r1"), {
        status: "running",
        owner: undefined,
        leaseExpiresAt: undefined,
        wakeAt: T0 + 30,
        fence: 1,
        updatedAt: T0 + 30,
      });
      const [claimed] = await claimAll("node-b", T0 + 30);
      expectRun(claimed, { runId: "r1", owner: "node-b", fence: 2 });
    });

    it("checks the fence", async () => {
      await create("r1", {}, "node-a");
      assert.deepEqual(await one({ type: "releaseRun", runId: "r1", fence: 0, now: T0 }), {
        ok: false,
        code: "STALE_FENCE",
      });
      expectRun(await getRun("r1"), { owner: "node-a" });
    });
  });

  // ---- completeRun -----------------------------------------------------------------------------

  describe("completeRun", () => {
    it("finishes the run with its output and drops the lease", async () => {
      await create("r1", {}, "node-a");
      assert.deepEqual(await complete("r1", 1, T0 + 40, '{"total":3}'), { ok: true });
      expectRun(await getRun("r1"), {
        status: "completed",
        output: { total: 3 },
        error: undefined,
        owner: undefined,
        leaseExpiresAt: undefined,
        wakeAt: undefined,
        fence: 1,
        completedAt: T0 + 40,
        updatedAt: T0 + 40,
      });
    });

    it("records a failure's error", async () => {
      await create("r1", {}, "node-a");
      const error = {
        name: "StepFailedError",
        message: "charge failed",
        code: "STEP_FAILED",
        terminal: true,
      };
      const r = await one({
        type: "completeRun",
        runId: "r1",
        fence: 1,
        status: "failed",
        outputJson: null,
        error,
        now: T0,
      });
      assert.deepEqual(r, { ok: true });
      expectRun(await getRun("r1"), { status: "failed", error, output: undefined });
      await create("r2", {}, "node-a");
      await one({
        type: "completeRun",
        runId: "r2",
        fence: 1,
        status: "cancelled",
        outputJson: null,
        now: T0,
      });
      expectRun(await getRun("r2"), { status: "cancelled" });
    });

    it("wakes the parent run", async () => {
      await create("p", {}, "node-a");
      await suspend("p", 1, T0 + 100_000);
      await create("c", { parentRunId: "p", parentSeq: 0 }, "node-a");
      await complete("c", 1, T0 + 50);
      assert.equal((await getRun("p")).wakeAt, T0 + 50);
      // A parent waiting without a timer is woken too.
      await create("p2", {}, "node-a");
      await suspend("p2", 1);
      await create("c2", { parentRunId: "p2", parentSeq: 0 }, "node-a");
      await complete("c2", 1, T0 + 60);
      assert.equal((await getRun("p2")).wakeAt, T0 + 60);
      const claimed = await claimAll("node-b", T0 + 60);
      assert.deepEqual(claimed.map((r) => r.runId).sort(), ["p", "p2"]);
    });

    it("does not wake a parent that already finished", async () => {
      await create("p", {}, "node-a");
      await create("c", { parentRunId: "p", parentSeq: 0 }, "node-a");
      await one({ type: "terminateRun", runId: "p", reason: "stop", now: T0 });
      await complete("c", 1, T0 + 50);
      expectRun(await getRun("p"), { status: "terminated", wakeAt: undefined });
      assert.deepEqual(await claimAll("node-b", T0 + 50), []);
    });

    it("a finished run cannot be finished again", async () => {
      await create("r1", {}, "node-a");
      await complete("r1", 1);
      assert.deepEqual(await complete("r1", 1, T0 + 1, '"again"'), {
        ok: false,
        code: "RUN_FINISHED",
        status: "completed",
      });
      assert.equal((await getRun("r1")).output, "done");
      assert.deepEqual(await complete("nope", 1), { ok: false, code: "RUN_NOT_FOUND" });
      await create("r2", {}, "node-a");
      assert.deepEqual(await complete("r2", 5), { ok: false, code: "STALE_FENCE" });
    });
  });

  // ---- events from outside ---------------------------------------------------------------------

  describe("deliverSignal", () => {
    it("buffers the signal durably and wakes the run", async () => {
      await create("r1", {}, "node-a");
      await suspend("r1", 1, T0 + 100_000);
      const a = await deliver("r1", "go", { n: 1 }, T0 + 5);
      const b = await deliver("r1", "go", { n: 2 }, T0 + 6);
      assert.ok(a.ok && b.ok);
      assert.equal(typeof a.signalId, "number");
      assert.ok((b.signalId as number) > (a.signalId as number));
      expectRun(await getRun("r1"), { wakeAt: T0 + 5, status: "waiting" });
      assert.deepEqual(await store().listSignals("r1"), [
        {
          id: a.signalId,
          runId: "r1",
          name: "go",
          payload: { n: 1 },
          receivedAt: T0 + 5,
          consumedSeq: undefined,
        },
        {
          id: b.signalId,
          runId: "r1",
          name: "go",
          payload: { n: 2 },
          receivedAt: T0 + 6,
          consumedSeq: undefined,
        },
      ]);
      assert.deepEqual(await store().listSignals("other"), []);
    });

    it("keeps an earlier wake-up time", async () => {
      await create("r1");
      await deliver("r1", "go", 1, T0 + 5);
      assert.equal((await getRun("r1")).wakeAt, T0);
    });

    it("is refused for unknown and finished runs", async () => {
      assert.deepEqual(await deliver("nope", "go", 1), { ok: false, code: "RUN_NOT_FOUND" });
      await create("r1", {}, "node-a");
      await complete("r1", 1);
      assert.deepEqual(await deliver("r1", "go", 1), {
        ok: false,
        code: "RUN_FINISHED",
        status: "completed",
      });
      assert.deepEqual(await store().listSignals("r1"), []);
      assert.deepEqual(await store().listSignals("nope"), []);
    });
  });

  describe("requestCancel", () => {
    it("marks the run, wakes it, and is reported to its owner by renewLeases", async () => {
      await create("r1", {}, "node-a");
      await create("r2", {}, "node-a");
      assert.deepEqual(await one({ type: "requestCancel", runId: "r1", now: T0 + 3 }), { ok: true });
      expectRun(await getRun("r1"), {
        cancelRequested: true,
        wakeAt: T0 + 3,
        updatedAt: T0 + 3,
        status: "running",
      });
      expectRun(await getRun("r2"), { cancelRequested: false });
      const renewed = await store().renewLeases({ nodeId: "node-a", leaseMs: LEASE, now: T0 + 4 });
      assert.deepEqual(renewed.cancelRequested, ["r1"]);
      assert.deepEqual(await store().renewLeases({ nodeId: "node-b", leaseMs: LEASE, now: T0 + 4 }), {
        renewed: [],
        cancelRequested: [],
      });
    });

    it("wakes a waiting run", async () => {
      await create("r1", {}, "node-a");
      await suspend("r1", 1, T0 + 100_000);
      await one({ type: "requestCancel", runId: "r1", now: T0 + 3 });
      const [claimed] = await claimAll("node-b", T0 + 3);
      expectRun(claimed, { runId: "r1", cancelRequested: true, fence: 2 });
    });

    it("is refused for unknown and finished runs", async () => {
      assert.deepEqual(await one({ type: "requestCancel", runId: "nope", now: T0 }), {
        ok: false,
        code: "RUN_NOT_FOUND",
      });
      await create("r1", {}, "node-a");
      await complete("r1", 1);
      assert.deepEqual(await one({ type: "requestCancel", runId: "r1", now: T0 }), {
        ok: false,
        code: "RUN_FINISHED",
        status: "completed",
      });
      expectRun(await getRun("r1"), { cancelRequested: false });
    });
  });

  describe("terminateRun", () => {
    it("ends the run at once and bumps the fence so the owner's writes fail", async () => {
      await create("r1", {}, "node-a");
      assert.deepEqual(
        await one({ type: "terminateRun", runId: "r1", reason: "operator said so", now: T0 + 9 }),
        {
          ok: true,
        },
      );
      expectRun(await getRun("r1"), {
        status: "terminated",
        error: {
          name: "TerminatedError",
          message: "operator said so",
          code: "RUN_TERMINATED",
          terminal: true,
        },
        owner: undefined,
        leaseExpiresAt: undefined,
        wakeAt: undefined,
        fence: 2,
        completedAt: T0 + 9,
        updatedAt: T0 + 9,
      });
      assert.deepEqual(await put("r1", 1, entry(0)), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await complete("r1", 1), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await suspend("r1", 1, T0), { ok: false, code: "STALE_FENCE" });
      assert.deepEqual(await store().loadJournal("r1"), []);
      assert.deepEqual(await claimAll("node-b", T0 + 10 * LEASE), []);
    });

    it("terminates a pending run, and wakes the parent of a child", async () => {
      await create("r1");
      await one({ type: "terminateRun", runId: "r1", reason: "x", now: T0 });
      expectRun(await getRun("r1"), { status: "terminated", fence: 1, wakeAt: undefined });
      await create("p", {}, "node-a");
      await suspend("p", 1);
      await create("c", { parentRunId: "p", parentSeq: 0 });
      await one({ type: "terminateRun", runId: "c", reason: "x", now: T0 + 70 });
      expectRun(await getRun("p"), { wakeAt: T0 + 70 });
    });

    it("is refused for unknown and finished runs", async () => {
      assert.deepEqual(await one({ type: "terminateRun", runId: "nope", reason: "x", now: T0 }), {
        ok: false,
        code: "RUN_NOT_FOUND",
      });
      await create("r1", {}, "node-a");
      await one({ type: "terminateRun", runId: "r1", reason: "first", now: T0 });
      assert.deepEqual(await one({ type: "terminateRun", runId: "r1", reason: "second", now: T0 }), {
        ok: false,
        code: "RUN_FINISHED",
        status: "terminated",
      });
      const run = await getRun("r1");
      assert.equal(run.fence, 2);
      assert.equal(run.error?.message, "first");
      await create("r2", {}, "node-a");
      await complete("r2", 1);
      assert.deepEqual(await one({ type: "terminateRun", runId: "r2", reason: "x", now: T0 }), {
        ok: false,
        code: "RUN_FINISHED",
        status: "completed",
      });
    });
  });
}
