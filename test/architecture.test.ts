import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

/**
 * Imports point downward only (DESIGN.md §4). Each layer lists the layers it may import; everything
 * under src/<layer>/ is checked, test files beside the code included.
 */
const ALLOWED: Record<string, string[]> = {
  core: ["core"],
  store: ["core", "store"],
  runtime: ["core", "store", "runtime"],
  dsl: ["core", "store", "runtime", "dsl"],
  client: ["core", "store", "runtime", "dsl", "client"],
  testing: ["core", "testing"],
  observability: ["core", "store", "runtime", "client", "observability"],
  server: ["core", "store", "runtime", "dsl", "client", "observability", "server"],
  cli: ["core", "store", "runtime", "dsl", "client", "observability", "server", "cli"],
};

const SRC = resolve("src");

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.(ts|tsx)$/.test(name)) out.push(path);
  }
  return out;
}

describe("architecture", () => {
  it("layers import only downward, and core performs no I/O", () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const rel = relative(SRC, file);
      const layer = rel.split("/")[0];
      if (!rel.includes("/")) continue; // src/index.ts: the public surface may re-export anything
      const allowed = ALLOWED[layer];
      assert.ok(allowed, `src/${layer} is not a known layer: add it to ALLOWED in this test`);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from\s+["']([^"']+)["']/g)) {
        const spec = m[1];
        if (spec.startsWith(".")) {
          const target = relative(SRC, resolve(file, "..", spec)).split("/")[0];
          if (!allowed.includes(target)) violations.push(`${rel} imports ${spec} (layer ${target})`);
        } else if (layer === "core" && !/^node:(assert|test)/.test(spec) && !rel.endsWith(".test.ts")) {
          violations.push(`${rel} imports package ${spec}: core must stay pure`);
        }
      }
      if (
        layer === "core" &&
        !rel.endsWith(".test.ts") &&
        /Date\.now\(|Math\.random\(|new Date\(\)/.test(text)
      ) {
        violations.push(`${rel} reads the clock or randomness: inject them`);
      }
    }
    assert.deepEqual(violations, []);
  });
});
