import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { TerminalError } from "../../src/core/errors.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type Harness, harness } from "../helpers/harness.js";

let h: Harness;
afterEach(() => h?.close());

describe("run statistics", () => {
  it("counts runs per bucket, the failure rate and step latency", async () => {
    const wf = workflow("mixed", async (ctx, fail: boolean) => {
      await ctx.step("work", () => {
        if (fail) throw new TerminalError("no");
        return 1;
      });
    });
    h = await harness([wf]);
    const since = h.clock.now();
    for (const fail of [false, false, true])
      await h.client.result((await h.client.start("mixed", fail)).runId);
    await h.clock.advance(60_000);
    await h.client.result((await h.client.start("mixed", false)).runId);
    const stats = await h.store.runStats({ since, until: since + 120_000, bucketMs: 60_000 });
    assert.deepEqual(stats.buckets, [
      { t: since, started: 3, completed: 2, failed: 1 },
      { t: since + 60_000, started: 1, completed: 1, failed: 0 },
    ]);
    assert.equal(stats.failureRate, 0.25);
    assert.equal(stats.stepLatencyMs.count, 3);
    assert.equal(stats.stepLatencyMs.p50, 0);
    const only = await h.store.runStats({
      since,
      until: since + 60_000,
      bucketMs: 60_000,
      workflow: "other",
    });
    assert.deepEqual(only.buckets, [{ t: since, started: 0, completed: 0, failed: 0 }]);
    assert.equal(only.failureRate, null);
  });
});
