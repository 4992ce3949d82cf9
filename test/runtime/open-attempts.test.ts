import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OpenAttempts } from "../../src/runtime/open-attempts.js";

/** The attempts in flight as [seq, name, attempt, fence, startedAt], in seq order. */
function listed(open: OpenAttempts) {
  return open
    .values("r-1", "wf")
    .map((a) => {
      assert.deepEqual([a.runId, a.workflow], ["r-1", "wf"]);
      return [a.seq, a.name, a.attempt, a.fence, a.startedAt];
    })
    .sort((x, y) => (x[0] as number) - (y[0] as number));
}

describe("OpenAttempts", () => {
  it("keeps attempts by seq, one in its fields and parallel ones beside it", () => {
    const open = new OpenAttempts();
    assert.deepEqual(listed(open), []);
    open.set(0, "a", 1, 1, 10);
    open.set(1, "b", 1, 1, 11); // a step running in parallel with seq 0
    open.set(2, "c", 1, 1, 12);
    assert.deepEqual(listed(open), [
      [0, "a", 1, 1, 10],
      [1, "b", 1, 1, 11],
      [2, "c", 1, 1, 12],
    ]);
    open.set(0, "a", 2, 1, 20); // the next attempt of seq 0 replaces the first
    assert.deepEqual(listed(open)[0], [0, "a", 2, 1, 20]);
    open.delete(0);
    assert.equal(open.has(0), false);
    assert.deepEqual(
      listed(open).map((a) => a[0]),
      [1, 2],
    );
    open.set(3, "d", 1, 2, 30); // the free fields are used again
    open.delete(1);
    open.delete(2);
    assert.deepEqual(listed(open), [[3, "d", 1, 2, 30]]);
    open.delete(7); // unknown seq: nothing happens
    assert.deepEqual(listed(open), [[3, "d", 1, 2, 30]]);
    // A seq kept beside the fields stays there when they free up: one place per seq.
    open.set(4, "e", 1, 2, 40);
    open.delete(3);
    open.set(4, "e", 2, 2, 41);
    assert.deepEqual(listed(open), [[4, "e", 2, 2, 41]]);
    open.delete(4);
    assert.equal(open.has(4), false);
    assert.deepEqual(listed(open), []);
  });
});
