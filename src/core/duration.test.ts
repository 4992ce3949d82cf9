import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toMs } from "./duration.js";
import { DirigentError } from "./errors.js";

describe("durations", () => {
  it("reads numbers as ms and text with units", () => {
    assert.equal(toMs(250), 250);
    assert.equal(toMs("250ms"), 250);
    assert.equal(toMs("10s"), 10_000);
    assert.equal(toMs("5m"), 300_000);
    assert.equal(toMs("2h"), 7_200_000);
    assert.equal(toMs("1d"), 86_400_000);
    assert.equal(toMs("1h30m"), 5_400_000);
    assert.equal(toMs("1.5s"), 1_500);
  });

  it("refuses what is not a duration", () => {
    for (const bad of ["", "10", "ten seconds", "5 minutes", "-1s", "1s garbage", -5, Number.NaN]) {
      assert.throws(
        () => toMs(bad as any),
        (e: unknown) => e instanceof DirigentError && e.code === "INVALID_ARGUMENT",
      );
    }
  });
});
