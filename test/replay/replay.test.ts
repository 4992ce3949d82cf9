import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, describe, it } from "node:test";
import type { JournalEntry, RunRecord } from "../../src/core/types.js";
import type { WorkflowDefinition } from "../../src/runtime/workflow.js";
import { type Harness, harness } from "../helpers/harness.js";
import { replayOrder, replayOrderRenamed } from "./workflows.js";

/**
 * Recorded journals, committed as fixtures, replayed against the current code on every build: a code
 * change that would break runs already in flight fails here before it reaches a user.
 */
const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/replay-order-v1.json", import.meta.url), "utf8"),
) as {
  run: RunRecord;
  journal: JournalEntry[];
};

let h: Harness;
afterEach(() => h?.close());

async function load(def: WorkflowDefinition) {
  h = await harness([def]);
  const { run, journal } = fixture;
  const now = h.clock.now();
  const ops = [
    {
      type: "createRun" as const,
      run: {
        runId: run.runId,
        workflow: run.workflow,
        version: run.version,
        inputJson: JSON.stringify(run.input),
        now,
      },
    },
    ...journal.map((e) => ({
      type: "putEntry" as const,
      runId: run.runId,
      fence: 0,
      entry: {
        ...e,
        resultJson: e.result === undefined ? null : JSON.stringify(e.result),
        errorJson: e.error ? JSON.stringify(e.error) : null,
        detailJson: e.detail ? JSON.stringify(e.detail) : null,
      },
    })),
  ];
  const results = await h.store.write(ops);
  assert.ok(results.every((r) => r.ok));
  h.engine.kick();
  return run.runId;
}

describe("recorded journals replay on the current code", () => {
  it("replay-order v1 continues from its recorded journal without re-running steps", async () => {
    const runId = await load(replayOrder);
    await h.client.signal(runId, "approval", { by: "ops" });
    const run = await h.client.result(runId);
    assert.equal(run.status, "completed", JSON.stringify(run.error));
    const recorded = (kind: string) => fixture.journal.find((e) => e.kind === kind)?.result;
    assert.deepEqual(run.output, {
      charge: { id: "ch-o-7", amount: 42 },
      label: "label-o-7",
      invoice: "inv-o-7",
      placedAt: recorded("now"),
      ref: recorded("uuid"),
      confirm: "confirmed by ops",
    });
    const journal = await h.store.loadJournal(runId);
    assert.equal(journal.length, fixture.journal.length + 1, "only the confirm step was added");
  });

  it("a deliberately changed workflow fails with NONDETERMINISM instead of diverging", async () => {
    const runId = await load(replayOrderRenamed);
    await h.client.signal(runId, "approval", { by: "ops" });
    const run = await h.client.result(runId);
    assert.equal(run.status, "failed");
    assert.equal(run.error?.code, "NONDETERMINISM");
    assert.match(run.error!.message, /step\("take-payment"\).*step\("charge"\)/);
  });
});
