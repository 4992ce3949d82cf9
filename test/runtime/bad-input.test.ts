import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { z } from "zod";
import { createEngine } from "../../src/runtime/engine.js";
import { workflow } from "../../src/runtime/workflow.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { type Harness, harness } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

const echo = workflow("echo", async (_ctx, input: unknown) => input, {
  input: z.object({ amount: z.number().positive() }).strict(),
});

describe("bad input gets a stable code and changes nothing", () => {
  it("unknown workflow", async () => {
    h = await harness([echo]);
    await assert.rejects(
      h.client.start("nope", {}),
      (e: any) => e.code === "WORKFLOW_NOT_FOUND" && e.details.known.includes("echo"),
    );
    assert.equal((await h.client.list()).runs.length, 0);
  });

  it("input that fails the workflow's schema", async () => {
    h = await harness([echo]);
    await assert.rejects(
      h.client.start("echo", { amount: -1 }),
      (e: any) => e.code === "INVALID_INPUT" && e.details.issues[0].path === "amount",
    );
    await assert.rejects(h.client.start("echo", { amount: 1, extra: true }), { code: "INVALID_INPUT" });
    assert.equal((await h.client.list()).runs.length, 0);
  });

  it("payload over the size limit, and values JSON cannot hold", async () => {
    const any = workflow("any", async (_ctx, input: unknown) => input);
    h = await harness([any], { maxPayloadBytes: 2_048 });
    await assert.rejects(h.client.start("any", "x".repeat(3_000)), { code: "PAYLOAD_TOO_LARGE" });
    await assert.rejects(h.client.start("any", { n: 10n }), { code: "INVALID_INPUT" });
    assert.equal((await h.client.list()).runs.length, 0);
  });

  it("invalid run ids, unknown runs and bad cursors", async () => {
    h = await harness([echo]);
    await assert.rejects(h.client.start("echo", { amount: 1 }, { runId: "" }), { code: "INVALID_ARGUMENT" });
    await assert.rejects(h.client.start("echo", { amount: 1 }, { runId: "has space" }), {
      code: "INVALID_ARGUMENT",
    });
    await assert.rejects(h.client.describe("missing"), { code: "RUN_NOT_FOUND" });
    await assert.rejects(h.client.history("missing"), { code: "RUN_NOT_FOUND" });
    await assert.rejects(h.client.cancel("missing"), { code: "RUN_NOT_FOUND" });
    await assert.rejects(h.client.terminate("missing"), { code: "RUN_NOT_FOUND" });
    await assert.rejects(h.client.list({ cursor: "garbage" }), { code: "INVALID_ARGUMENT" });
  });

  it("engine options: unknown keys and bad values are refused", () => {
    const store = new SqliteStore({ path: ":memory:" });
    assert.throws(
      () => createEngine({ store, leaseMS: 5 } as any),
      (e: any) => e.code === "INVALID_OPTIONS" && /leaseMS/.test(e.message),
    );
    assert.throws(() => createEngine({ store, leaseMs: -1 }), { code: "INVALID_OPTIONS" });
    assert.throws(() => createEngine({ store: {} as any }), { code: "INVALID_OPTIONS" });
    assert.throws(() => createEngine({ store, defaultRetry: { maxAttempts: 0 } }), {
      code: "INVALID_OPTIONS",
    });
    assert.throws(() => workflow("bad name!", async () => 1), TypeError);
  });
});

describe("starting", () => {
  it("uses the run id as an idempotency key", async () => {
    h = await harness([echo]);
    const first = await h.client.start("echo", { amount: 1 }, { runId: "order-1" });
    const again = await h.client.start("echo", { amount: 2 }, { runId: "order-1" });
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.equal(again.runId, "order-1");
    await assert.rejects(h.client.start("echo", { amount: 3 }, { runId: "order-1", onConflict: "fail" }), {
      code: "RUN_ALREADY_EXISTS",
    });
    assert.deepEqual((await h.client.result("order-1")).output, { amount: 1 });
  });

  it("two engines in one process on separate files do not interfere", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dirigent-two-"));
    const stores = [
      new SqliteStore({ path: join(dir, "a.db") }),
      new SqliteStore({ path: join(dir, "b.db") }),
    ];
    const engines = stores.map((store, i) =>
      createEngine({
        store,
        workflows: [workflow("who", async (ctx) => ctx.step("name", () => `engine-${i}`))],
      }),
    );
    try {
      await Promise.all(engines.map((e) => e.start()));
      const ids = await Promise.all(engines.map((e) => e.startRun("who", null, { runId: "same-id" })));
      const outs = await Promise.all(engines.map((e, i) => e.waitForFinish(ids[i].runId, 5_000)));
      assert.deepEqual(
        outs.map((r) => r.output),
        ["engine-0", "engine-1"],
      );
    } finally {
      for (const e of engines) await e.stop();
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists runs with filters and cursor pagination", async () => {
    h = await harness([echo]);
    for (let i = 0; i < 7; i++) {
      await h.client.start("echo", { amount: i + 1 }, { runId: `run-${i}` });
      await h.clock.advance(10);
    }
    for (let i = 0; i < 7; i++) await h.client.result(`run-${i}`);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.client.list({ limit: 3, cursor });
      seen.push(...page.runs.map((r) => r.runId));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, ["run-6", "run-5", "run-4", "run-3", "run-2", "run-1", "run-0"]);
    assert.equal((await h.client.list({ idContains: "-3" })).runs[0].runId, "run-3");
    assert.equal((await h.client.list({ status: ["failed"] })).runs.length, 0);
  });
});
