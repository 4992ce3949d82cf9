import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DirigentError } from "./errors.js";
import { decodePayload, encodePayload, hasUnstorableCharacters, parseJsonInput } from "./payload.js";

const code = (c: string) => (e: unknown) => e instanceof DirigentError && e.code === c;

describe("payloads", () => {
  it("round-trips JSON values and keeps undefined apart", () => {
    assert.equal(encodePayload(undefined, 100, "x"), null);
    assert.equal(decodePayload(null), undefined);
    assert.deepEqual(decodePayload(encodePayload({ a: [1, "é"] }, 100, "x")), { a: [1, "é"] });
  });

  it("counts bytes, not characters, against the limit", () => {
    assert.doesNotThrow(() => encodePayload("a".repeat(1_000), 1_100, "x"));
    assert.throws(() => encodePayload("€".repeat(1_000), 1_100, "x"), code("PAYLOAD_TOO_LARGE"));
  });

  it("refuses values JSON cannot hold", () => {
    const cyclic: any = {};
    cyclic.self = cyclic;
    assert.throws(() => encodePayload(cyclic, 1_000, "x"), code("INVALID_INPUT"));
    assert.throws(() => encodePayload(() => 1, 1_000, "x"), code("INVALID_INPUT"));
  });

  it("turns JSON syntax errors into INVALID_JSON", () => {
    assert.throws(() => parseJsonInput("{nope", "input"), code("INVALID_JSON"));
    assert.deepEqual(parseJsonInput('{"a":1}', "input"), { a: 1 });
  });

  it("spots characters a text column cannot store", () => {
    assert.equal(hasUnstorableCharacters("charge-card é 😀"), false);
    assert.equal(hasUnstorableCharacters("a\u0000b"), true);
    assert.equal(hasUnstorableCharacters("lone \uD800 high"), true);
    assert.equal(hasUnstorableCharacters("lone \uDC00 low"), true);
  });
});
