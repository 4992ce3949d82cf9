import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OpenAttempts } from "../../src/runtime/open-attempts.js";

describe("OpenAttempts", () => {
  it("keeps attempts by seq, one in its slot and parallel ones beside it", () => {
    const open = new OpenAttempts<string>();
    assert.equal(open.get(0), undefined);
    open.set(0, "a");
    open.set(1, "b"); // a step running in parallel with seq 0
    open.set(2, "c");
    assert.deepEqual([open.get(0), open.get(1), open.get(2)], ["a", "b", "c"]);
    open.set(0, "a2"); // the next attempt of seq 0 replaces the first
    assert.equal(open.get(0), "a2");
    open.delete(0);
    assert.equal(open.get(0), undefined);
    assert.deepEqual(open.values().sort(), ["b", "c"]);
    open.set(3, "d"); // the free slot is used again
    open.delete(1);
    open.delete(2);
    assert.deepEqual(open.values(), ["d"]);
    open.delete(7); // unknown seq: nothing happens
    assert.deepEqual(open.values(), ["d"]);
    // A seq kept beside the slot stays there when the slot frees up: one place per seq.
    open.set(4, "e");
    open.delete(3);
    open.set(4, "e2");
    open.delete(4);
    assert.equal(open.get(4), undefined);
    assert.deepEqual(open.values(), []);
  });
});
