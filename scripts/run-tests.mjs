#!/usr/bin/env node
// Runs every test file with node's own runner through tsx. Node 20's `node --test` neither expands
// globs nor finds .ts files in a folder, so the files are listed here explicitly.
//
// Files that disturb the whole machine run on their own, after all the others: pg-restart.test.ts
// restarts the shared PostgreSQL server, which would cut the connections of any PostgreSQL test running
// beside it (the others run two files at a time). When both groups run, a last line adds up their
// counts ("N passed, N failed").
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, normalize } from "node:path";
import { createInterface } from "node:readline";

const ALONE = new Set([normalize("test/e2e/pg-restart.test.ts")]);

function find(dir, out = []) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

/** Run node's test runner on `files`; resolves with its exit code and the counts of its summary. */
function runFiles(files, concurrency) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-timeout=300000", ...files],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const counts = {};
    createInterface({ input: child.stdout }).on("line", (line) => {
      process.stdout.write(`${line}\n`);
      // The summary: "# pass 12" (TAP, when not on a terminal) or "ℹ pass 12" (spec).
      const m = /^(?:# |ℹ )(tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line);
      if (m) counts[m[1]] = Number(m[2]);
    });
    child.on("close", (code, signal) => resolve({ code: signal ? 1 : (code ?? 1), counts }));
  });
}

const only = process.argv.slice(2);
const files = only.length ? only : [...find("src"), ...find("test")].sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const together = files.filter((f) => !ALONE.has(normalize(f)));
const alone = files.filter((f) => ALONE.has(normalize(f)));
const results = [];
if (together.length) results.push(await runFiles(together, 2));
if (alone.length) results.push(await runFiles(alone, 1));
if (results.length > 1) {
  const sum = (key) => results.reduce((n, r) => n + (r.counts[key] ?? 0), 0);
  const failed = sum("fail") + sum("cancelled");
  const skipped = sum("skipped");
  console.log(`total: ${sum("pass")} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
}
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
