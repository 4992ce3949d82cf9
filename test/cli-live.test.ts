// Following runs: the live table redrawn in place on a terminal (in-process, with a stream that says it
// is a TTY), colour decisions, and `workflow execute` in local mode (the real binary).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { shouldColor, stripAnsi } from "../src/cli/colors.js";
import { followRun, LiveView, liveText, visualLines } from "../src/cli/follow.js";
import { Output } from "../src/cli/output.js";
import { openLocalSession } from "../src/cli/session.js";
import type { RunRecord } from "../src/core/types.js";
import { workflows } from "./fixtures/cli-remote-workflows.js";
import { runCli } from "./fixtures/cli-run.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/cli-remote-workflows.ts", import.meta.url));
const ESC = String.fromCharCode(27);

/** A stdout that says it is a terminal of the given size, and keeps what is written. */
function terminal(columns = 120, rows = 40) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY: true, columns, rows },
  );
  const sink = new Writable({ write: (_c, _e, done) => done() });
  return { chunks, out: new Output("table", { stdout: stream, stderr: sink }) };
}

let dir: string;

describe("following runs", () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "dirigent-cli-live-"));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("redraws the table in place on a terminal, each drawing replacing the one before", async () => {
    const session = await openLocalSession({ kind: "sqlite", path: join(dir, "live.db") }, workflows, true);
    const { chunks, out } = terminal();
    try {
      const { runId } = await session.client.start("steps", { n: 3, ms: 60 });
      const followed = await followRun(out, session, runId);
      assert.equal(followed.outcome, "finished");
      assert.equal(followed.run.status, "completed");
      assert.ok(chunks.length >= 3, `expected several drawings, got ${chunks.length}`);
      assert.ok(!chunks[0].startsWith(ESC), "the first drawing clears nothing");
      for (let i = 1; i < chunks.length; i++) {
        // Cursor up exactly as many lines as the previous drawing took, back to column 1, erase below.
        const previous = visualLines(chunks[i - 1].replace(/^\S*\[\d+A\r\S*\[J/, "").replace(/\n$/, ""), 120);
        assert.ok(
          chunks[i].startsWith(`${ESC}[${previous}A\r${ESC}[J`),
          `drawing ${i}: ${JSON.stringify(chunks[i])}`,
        );
      }
      const last = stripAnsi(chunks.at(-1)!);
      assert.match(last, /step:completed.*step-3/);
      assert.match(last, /run:finished.*completed/);
      assert.doesNotMatch(last, /Ctrl-C stops following/, "the last drawing has no status line");
    } finally {
      await session.close();
    }
  });

  it("keeps a long history within the screen, and draws nothing twice", () => {
    const run = { runId: "r", workflow: "w", version: "1", status: "running" } as RunRecord;
    const events = Array.from({ length: 50 }, (_, i) => ({
      time: i,
      type: "step:completed" as const,
      seq: i,
      name: `s${i}`,
    }));
    const text = liveText(run, events, 1_500, { columns: 100, rows: 20 });
    assert.ok(visualLines(text, 100) <= 18, `${visualLines(text, 100)} lines`);
    assert.match(stripAnsi(text), /^… \d+ earlier events/);
    assert.match(stripAnsi(text), /s49/);
    assert.match(stripAnsi(text), /running · 1 s/);

    const { chunks, out } = terminal();
    const view = new LiveView(out);
    view.draw("a\nb");
    view.draw("a\nb");
    view.draw("c");
    assert.deepEqual(chunks, ["a\nb\n", `${ESC}[2A\r${ESC}[Jc\n`]);
  });

  it("colours a terminal only, and obeys NO_COLOR and FORCE_COLOR", () => {
    assert.equal(shouldColor({ isTTY: true }, {}), true);
    assert.equal(shouldColor({ isTTY: false }, {}), false);
    assert.equal(shouldColor({}, { CI: "true" }), false);
    assert.equal(shouldColor({ isTTY: true }, { TERM: "dumb" }), false);
    assert.equal(shouldColor({ isTTY: true }, { NO_COLOR: "1" }), false);
    assert.equal(shouldColor({ isTTY: false }, { FORCE_COLOR: "1" }), true);
    assert.equal(shouldColor({ isTTY: true }, { FORCE_COLOR: "0" }), false);
  });

  it("execute in local mode: exit 0 when the run completes, 1 when it is left waiting", async () => {
    const base = (db: string) => ["--db", db, "--module", FIXTURE, "workflow", "execute"];
    const [done, waiting] = await Promise.all([
      runCli([...base("local-1.db"), "greet", "--input", '{"name":"loc"}', "--run-id", "le-1"], { cwd: dir }),
      runCli(
        [...base("local-2.db"), "approval", "--input", '{"item":"x"}', "--run-id", "le-2", "-o", "json"],
        {
          cwd: dir,
        },
      ),
    ]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /step:completed\s+#0 compose/);
    assert.match(done.stdout, /^output\s+\{"greeting":"hello loc"\}$/m);
    assert.equal(waiting.code, 1, waiting.stderr);
    const doc = JSON.parse(waiting.stdout);
    assert.equal(doc.status, "waiting");
    assert.match(waiting.stderr, /run le-2 is waiting: suspended durably on a signal/);
  });
});
