// The real `dirigent` binary, run as a child process against a temporary database.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../bin/dirigent.js", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/cli-workflows.ts", import.meta.url));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;

/** Run the binary with `cwd` = the temp folder (not the repo), and no DIRIGENT_DATABASE_URL unless given. */
function dirigent(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const { DIRIGENT_DATABASE_URL: _ignored, ...base } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...base, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Global options for the test database and fixture module, then the command. */
const withDb = (...args: string[]) => ["--db", "cli.db", "--module", FIXTURE, ...args];

/** Run a command with -o json and parse stdout as exactly one JSON document. */
async function json(args: string[], expectCode = 0): Promise<any> {
  const r = await dirigent([...args, "-o", "json"]);
  assert.equal(r.code, expectCode, `exit code of ${args.join(" ")}; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function assertNoStack(r: Result): void {
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at .+:\d+:\d+/, "expected errors print no stack trace");
}

describe("dirigent CLI (local mode)", () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "dirigent-cli-"));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts a run, executes it to completion and prints the outcome as JSON", async () => {
    const started = await json(
      withDb("workflow", "start", "greet", "--input", '{"name":"ann"}', "--run-id", "g-1"),
    );
    assert.deepEqual(started, {
      runId: "g-1",
      workflow: "greet",
      version: "1",
      status: "completed",
      output: { greeting: "hello ann" },
      created: true,
    });
  });

  it("lists, describes, shows and prints the result of runs, without --module", async () => {
    await json(withDb("workflow", "start", "greet", "--input", '{"name":"bo"}', "--run-id", "g-2"));
    const ro = (...args: string[]) => ["--db", "cli.db", ...args];

    const page = await json(ro("workflow", "list", "--workflow", "greet"));
    const ids = page.runs.map((r: any) => r.runId);
    assert.ok(ids.includes("g-1") && ids.includes("g-2"), `list: ${ids}`);
    const limited = await json(ro("workflow", "list", "--workflow", "greet", "--limit", "1"));
    assert.equal(limited.runs.length, 1);
    assert.equal(typeof limited.nextCursor, "string");
    const none = await json(ro("workflow", "list", "--status", "failed,cancelled", "--workflow", "greet"));
    assert.deepEqual(none.runs, []);

    const run = await json(ro("workflow", "describe", "g-1"));
    assert.equal(run.status, "completed");
    assert.deepEqual(run.input, { name: "ann" });
    assert.deepEqual(run.output, { greeting: "hello ann" });

    const history = await json(ro("workflow", "show", "g-1"));
    assert.equal(history.run.runId, "g-1");
    assert.deepEqual(
      history.events.map((e: any) => [e.type, e.name]),
      [
        ["run:created", undefined],
        ["run:started", undefined],
        ["step:completed", "compose"],
        ["run:finished", undefined],
      ],
    );

    const result = await json(ro("workflow", "result", "g-1"));
    assert.deepEqual(result, { runId: "g-1", status: "completed", output: { greeting: "hello ann" } });

    // The table renderings carry the same facts.
    const table = await dirigent(ro("workflow", "show", "g-1"));
    assert.equal(table.code, 0);
    assert.match(table.stdout, /TIME\s.*TYPE\s.*SEQ\s.*NAME\s.*ATTEMPT\s.*ERROR/);
    assert.match(table.stdout, /step:completed\s.*\s0\s.*compose/);
    const text = await dirigent(ro("workflow", "result", "g-2"));
    assert.deepEqual(JSON.parse(text.stdout), { greeting: "hello bo" });
  });

  it("leaves a run waiting for a signal, and completes it when the signal comes", async () => {
    const started = await json(
      withDb("workflow", "start", "approval", "--input", '{"item":"lamp"}', "--run-id", "a-1"),
    );
    assert.equal(started.status, "waiting");
    assert.equal(started.output, undefined);

    const early = await dirigent(["--db", "cli.db", "workflow", "result", "a-1"]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /^error RUN_NOT_FINISHED: /m);

    const signalled = await json(withDb("workflow", "signal", "a-1", "approve", "--payload", '{"ok":true}'));
    assert.equal(signalled.status, "completed");
    assert.deepEqual(signalled.output, { item: "lamp", approved: true });
    assert.equal(signalled.signal, "approve");

    const history = await json(["--db", "cli.db", "workflow", "show", "a-1"]);
    const received = history.events.find((e: any) => e.type === "signal:received");
    assert.equal(received?.name, "approve");
    assert.deepEqual(received?.result, { ok: true });
  });

  it("keeps executing through a short retry backoff in the same command", async () => {
    const started = await json(withDb("workflow", "start", "flaky", "--run-id", "f-1"));
    assert.equal(started.status, "completed");
    assert.equal(started.output, 2);
    const history = await json(["--db", "cli.db", "workflow", "show", "f-1"]);
    assert.deepEqual(
      history.events.filter((e: any) => e.type.startsWith("step:")).map((e: any) => [e.type, e.attempt]),
      [
        ["step:attempt-failed", 1],
        ["step:completed", 2],
      ],
    );
  });

  it("reports a failed run, and its result is a RUN_FAILED error", async () => {
    const started = await json(withDb("workflow", "start", "broken", "--run-id", "b-1"));
    assert.equal(started.status, "failed");
    assert.equal(started.error.code, "STEP_FAILED");
    const r = await dirigent(["--db", "cli.db", "workflow", "result", "b-1", "-o", "json"]);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.code, "RUN_FAILED");
    assert.equal(doc.error.details.status, "failed");
  });

  it("cancels a waiting run: the undo runs and the run ends cancelled", async () => {
    const started = await json(
      withDb("workflow", "start", "reserve", "--input", '{"seat":"1A"}', "--run-id", "r-1"),
    );
    assert.equal(started.status, "waiting");
    const cancelled = await json(withDb("workflow", "cancel", "r-1"));
    assert.equal(cancelled.status, "cancelled");
    const history = await json(["--db", "cli.db", "workflow", "show", "r-1"]);
    const undo = history.events.find((e: any) => e.type === "undo:completed");
    assert.equal(undo?.name, "undo:book");
    const result = await json(["--db", "cli.db", "workflow", "result", "r-1"], 1);
    assert.equal(result.error.code, "RUN_CANCELLED");
  });

  it("terminates a waiting run without --module", async () => {
    await json(withDb("workflow", "start", "reserve", "--input", '{"seat":"2B"}', "--run-id", "r-2"));
    const terminated = await json(["--db", "cli.db", "workflow", "terminate", "r-2", "--reason", "sold out"]);
    assert.equal(terminated.status, "terminated");
    assert.equal(terminated.error.message, "sold out");
    const again = await json(["--db", "cli.db", "workflow", "terminate", "r-2"], 1);
    assert.equal(again.error.code, "RUN_FINISHED");
  });

  it("returns an existing run for a known --run-id, or RUN_ALREADY_EXISTS with --fail-on-conflict", async () => {
    const again = await json(
      withDb("workflow", "start", "greet", "--input", '{"name":"zed"}', "--run-id", "g-1"),
    );
    assert.equal(again.created, false);
    assert.deepEqual(again.output, { greeting: "hello ann" });
    const conflict = await json(
      withDb("workflow", "start", "greet", "--run-id", "g-1", "--fail-on-conflict"),
      1,
    );
    assert.equal(conflict.error.code, "RUN_ALREADY_EXISTS");
  });

  it("fails with WORKFLOW_NOT_FOUND for an unknown workflow (exit 1, no stack trace)", async () => {
    const r = await dirigent(withDb("workflow", "start", "no-such-flow"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error WORKFLOW_NOT_FOUND: workflow "no-such-flow" is not registered$/m);
    assert.equal(r.stdout, "");
    assertNoStack(r);
    const doc = await json(withDb("workflow", "start", "no-such-flow"), 1);
    assert.equal(doc.error.code, "WORKFLOW_NOT_FOUND");
    assert.ok(doc.error.details.known.includes("greet"));
  });

  it("fails with INVALID_JSON for a bad --input (exit 1)", async () => {
    const r = await dirigent(withDb("workflow", "start", "greet", "--input", "{name: ann}"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error INVALID_JSON: --input is not valid JSON/m);
    assertNoStack(r);
    const doc = await json(withDb("workflow", "signal", "a-1", "x", "--payload", "[1,"), 1);
    assert.equal(doc.error.code, "INVALID_JSON");
  });

  it("fails with RUN_NOT_FOUND for an unknown run (exit 1)", async () => {
    for (const verb of [["describe"], ["terminate"]]) {
      const r = await dirigent(["--db", "cli.db", "workflow", ...verb, "nobody"]);
      assert.equal(r.code, 1, verb[0]);
      assert.match(r.stderr, /^error RUN_NOT_FOUND: run "nobody" not found$/m, verb[0]);
      assertNoStack(r);
    }
    const doc = await json(withDb("workflow", "signal", "nobody", "approve"), 1);
    assert.equal(doc.error.code, "RUN_NOT_FOUND");
  });

  it("exits 2 for usage mistakes", async () => {
    const noModule = await dirigent(["--db", "cli.db", "workflow", "start", "greet"]);
    assert.equal(noModule.code, 2);
    assert.match(noModule.stderr, /^error INVALID_ARGUMENT: .*needs --module/m);
    const unknownOption = await dirigent(["--db", "cli.db", "workflow", "list", "--colour", "-o", "json"]);
    assert.equal(unknownOption.code, 2);
    assert.equal(JSON.parse(unknownOption.stdout).error.code, "INVALID_ARGUMENT");
    const both = await dirigent(
      withDb("workflow", "start", "greet", "--input", "{}", "--input-file", "x.json"),
    );
    assert.equal(both.code, 2);
    assertNoStack(both);
  });

  it("stops cleanly on Ctrl-C and exits with 130", async () => {
    const marker = join(dir, "pause.started");
    const child = spawn(
      process.execPath,
      [
        BIN,
        ...withDb("workflow", "start", "pause", "--input", JSON.stringify({ marker, ms: 300 }), "-o", "json"),
      ],
      { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    const giveUp = Date.now() + 30_000;
    while (!existsSync(marker) && Date.now() < giveUp) await delay(20);
    assert.ok(existsSync(marker), "the step never started");
    child.kill("SIGINT");
    const code = await closed;
    assert.equal(code, 130);
    // The engine let the step in flight land before stopping; stdout still holds one JSON document.
    const doc = JSON.parse(stdout);
    assert.equal(doc.workflow, "pause");
    assert.ok(["completed", "running"].includes(doc.status), doc.status);
  });

  it("reads the database from DIRIGENT_DATABASE_URL and the module from a relative path", async () => {
    const env = { DIRIGENT_DATABASE_URL: "sqlite:./from-env.db" };
    const rel = relative(dir, FIXTURE);
    const r = await dirigent(
      ["--module", rel, "workflow", "start", "greet", "--input", '{"name":"env"}', "-o", "json"],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const { runId } = JSON.parse(r.stdout);
    const listed = await dirigent(["workflow", "list", "-o", "json"], env);
    assert.deepEqual(
      JSON.parse(listed.stdout).runs.map((x: any) => x.runId),
      [runId],
    );
    // The default database (./dirigent.db) was never created: read-only commands refuse a missing file.
    const missing = await dirigent(["workflow", "list"]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^error INVALID_ARGUMENT: database file "\.\/dirigent\.db" does not exist$/m,
    );
  });
});
