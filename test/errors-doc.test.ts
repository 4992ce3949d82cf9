// docs/errors.md and ERROR_CODES must list the same codes, each with the HTTP status it maps to.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ERROR_CODES, httpStatusFor } from "../src/core/errors.js";

const text = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");

/** `## CODE` sections: the heading and the text up to the next `## ` heading. */
function sections(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  const parts = markdown.split(/^## /m).slice(1);
  for (const part of parts) {
    const newline = part.indexOf("\n");
    const heading = (newline === -1 ? part : part.slice(0, newline)).trim();
    assert.ok(!found.has(heading), `"## ${heading}" appears twice`);
    found.set(heading, newline === -1 ? "" : part.slice(newline + 1));
  }
  return found;
}

describe("docs/errors.md", () => {
  const docs = sections(text);

  it("has one section per error code, and no other", () => {
    assert.deepEqual([...docs.keys()].sort(), Object.keys(ERROR_CODES).sort());
  });

  it("states in each section the HTTP status the code maps to", () => {
    for (const [code, body] of docs) {
      const stated = [...body.matchAll(/\*\*HTTP status:\*\*\s*(\d{3})/g)].map((m) => Number(m[1]));
      assert.deepEqual(stated, [httpStatusFor(code)], `section ${code} must state its status once`);
    }
  });

  it("says in each section when the error happens and what to do", () => {
    for (const [code, body] of docs) {
      for (const label of ["When:", "What to do:"]) {
        const at = body.indexOf(`**${label}**`);
        assert.ok(at >= 0, `section ${code} lacks **${label}**`);
        const rest = body.slice(at + label.length + 4).trim();
        assert.ok(rest.length > 10, `section ${code}: **${label}** says nothing`);
      }
    }
  });
});
