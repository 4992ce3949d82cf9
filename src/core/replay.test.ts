import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NondeterminismError } from "./errors.js";
import { checkNoLeftovers, matchRecorded } from "./replay.js";
import type { JournalEntry } from "./types.js";

const entry = (seq: number, kind: JournalEntry["kind"], name: string): JournalEntry => ({
  seq,
  kind,
  name,
  status: "completed",
  attempt: 1,
  startedAt: 0,
  updatedAt: 0,
});

describe("replay rules", () => {
  it("returns the recorded entry when kind and name match", () => {
    const e = entry(3, "step", "charge");
    assert.equal(matchRecorded({ seq: 3, kind: "step", name: "charge" }, e), e);
    assert.equal(matchRecorded({ seq: 4, kind: "step", name: "x" }, undefined), undefined);
  });

  it("names expected and recorded entries when the code changed", () => {
    assert.throws(
      () => matchRecorded({ seq: 1, kind: "step", name: "ship" }, entry(1, "step", "charge")),
      (e: unknown) =>
        e instanceof NondeterminismError &&
        e.code === "NONDETERMINISM" &&
        e.expected === 'step("ship")' &&
        e.recorded === 'step("charge")' &&
        e.seq === 1,
    );
    assert.throws(
      () => matchRecorded({ seq: 0, kind: "sleep", name: "charge" }, entry(0, "step", "charge")),
      NondeterminismError,
    );
  });

  it("detects recorded entries the code no longer reaches, ignoring compensations", () => {
    const journal = [
      entry(0, "step", "a"),
      entry(1, "step", "b"),
      { ...entry(1_000_000_000, "undo", "undo:a") },
    ];
    assert.doesNotThrow(() => checkNoLeftovers([journal[2]]));
    assert.throws(() => checkNoLeftovers(journal.slice(1)), /step\("b"\)/);
  });
});
