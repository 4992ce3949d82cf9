// The real `dirigent` binary in remote mode (--address / DIRIGENT_ADDRESS), against a real server
// started in this process on a temporary SQLite file.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { RunStatus } from "../src/core/types.js";
import { type RunningServer, startServer } from "../src/server/start.js";
import { workflows } from "./fixtures/cli-remote-workflows.js";
import { type CliResult, LongRunning, runCli } from "./fixtures/cli-run.js";

const ESC = String.fromCharCode(27);

let dir: string;
let server: RunningServer;

/** `dirigent --address <server> <args>`. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(["--address", server.url, ...args], { cwd: dir, env });
}

/** Run with -o json; check the exit code and parse stdout as exactly one JSON document. */
async function json(args: string[], expectCode = 0): Promise<any> {
  const r = await cli([...args, "-o", "json"]);
  assert.equal(
    r.code,
    expectCode,
    `exit code of ${args.join(" ")}; stdout: ${r.stdout}; stderr: ${r.stderr}`,
  );
  return JSON.parse(r.stdout);
}

/** Run with -o jsonl: every stdout line is one JSON object. */
async function jsonl(args: string[], expectCode = 0): Promise<any[]> {
  const r = await cli([...args, "-o", "jsonl"]);
  assert.equal(r.code, expectCode, `exit code of ${args.join(" ")}; stderr: ${r.stderr}`);
  const lines = r.stdout.split("\n").filter((l) => l !== "");
  return lines.map((l) => JSON.parse(l));
}

/** Poll the server (not the CLI) until a run reaches `status`. */
async function until(runId: string, status: RunStatus): Promise<void> {
  const giveUp = Date.now() + 10_000;
  for (;;) {
    const run = await server.client.describe(runId);
    if (run.status === status) return;
    assert.ok(Date.now() < giveUp, `run ${runId} is ${run.status}, not ${status}`);
    await delay(20);
  }
}

describe("dirigent CLI (remote mode)", () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "dirigent-cli-remote-"));
    server = await startServer({
      port: 0,
      databaseUrl: `sqlite:${join(dir, "remote.db")}`,
      workflows,
      handleSignals: false,
      dashboardDir: false,
    });
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts, describes, lists, shows and prints the result of runs on a server", async () => {
    const started = await json([
      "workflow",
      "start",
      "greet",
      "--input",
      '{"name":"ann"}',
      "--run-id",
      "rg-1",
    ]);
    assert.equal(started.runId, "rg-1");
    assert.equal(started.workflow, "greet");
    assert.equal(started.created, true);
    const result = await json(["workflow", "result", "rg-1", "--wait", "--wait-ms", "10000"]);
    assert.deepEqual(result, { runId: "rg-1", status: "completed", output: { greeting: "hello ann" } });

    const [described, listed, shown, viaEnv] = await Promise.all([
      json(["workflow", "describe", "rg-1"]),
      jsonl(["workflow", "list", "--workflow", "greet"]),
      json(["workflow", "show", "rg-1"]),
      // DIRIGENT_ADDRESS instead of --address.
      runCli(["workflow", "result", "rg-1", "-o", "json"], {
        cwd: dir,
        env: { DIRIGENT_ADDRESS: server.url },
      }),
    ]);
    assert.equal(described.status, "completed");
    assert.deepEqual(described.input, { name: "ann" });
    // jsonl: one run per line.
    assert.deepEqual(
      listed.map((r) => [r.runId, r.status]),
      [["rg-1", "completed"]],
    );
    assert.deepEqual(
      shown.events.map((e: any) => [e.type, e.name]),
      [
        ["run:created", undefined],
        ["run:started", undefined],
        ["step:completed", "compose"],
        ["run:finished", undefined],
      ],
    );
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.deepEqual(JSON.parse(viaEnv.stdout).output, { greeting: "hello ann" });
  });

  it("signals, cancels and terminates runs on a server", async () => {
    await Promise.all([
      server.client.start("approval", { item: "lamp" }, { runId: "ra-1" }),
      server.client.start("reserve", { seat: "1A" }, { runId: "rr-1" }),
      server.client.start("reserve", { seat: "2B" }, { runId: "rr-2" }),
    ]);
    await Promise.all([until("ra-1", "waiting"), until("rr-1", "waiting"), until("rr-2", "waiting")]);

    const [signalled, cancelled, terminated, missing] = await Promise.all([
      json(["workflow", "signal", "ra-1", "approve", "--payload", '{"ok":true}']),
      json(["workflow", "cancel", "rr-1"]),
      json(["workflow", "terminate", "rr-2", "--reason", "sold out"]),
      cli(["workflow", "describe", "nobody"]),
    ]);
    assert.equal(signalled.signal, "approve");
    assert.equal(typeof signalled.signalId, "number");
    assert.equal(cancelled.runId, "rr-1");
    assert.equal(terminated.status, "terminated");
    assert.equal(terminated.error.message, "sold out");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error RUN_NOT_FOUND: run "nobody" not found$/m);

    // The server finishes what was asked: the signal completes the run, the cancel runs the undo.
    const [approved, cancelledResult] = await Promise.all([
      json(["workflow", "result", "ra-1", "--wait", "--wait-ms", "10000"]),
      json(["workflow", "result", "rr-1", "--wait", "--wait-ms", "10000"], 1),
    ]);
    assert.deepEqual(approved.output, { item: "lamp", approved: true });
    assert.equal(cancelledResult.error.code, "RUN_CANCELLED");
    const history = await server.client.history("rr-1");
    assert.ok(history.events.some((e) => e.type === "undo:completed" && e.name === "undo:book"));
  });

  it("execute follows a run live until it completes (exit 0)", async () => {
    // The run waits for a signal half-way: the follower must print the first step before the run ends.
    const follower = new LongRunning(
      [
        "--address",
        server.url,
        "workflow",
        "execute",
        "approval",
        "--input",
        '{"item":"desk"}',
        "--run-id",
        "rx-1",
      ],
      { cwd: dir },
    );
    try {
      await follower.waitFor(/step:completed\s+#0 prepare/);
      assert.doesNotMatch(follower.stdout, /run:finished/);
      await server.client.signal("rx-1", "approve", { ok: true });
      assert.equal(await follower.exited, 0, follower.stderr);
    } finally {
      await follower.stop("SIGKILL");
    }
    const out = follower.stdout;
    assert.match(out, /^started run rx-1 of approval$/m);
    const order = ["#0 prepare", "signal:received", "#2 finish", "run:finished"].map((s) => out.indexOf(s));
    assert.ok(
      order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1])),
      `events out of order: ${out}`,
    );
    assert.match(out, /^status\s+completed$/m);
    assert.match(out, /^output\s+\{"item":"desk","approved":true\}$/m);
  });

  it("execute exits 1 when the run fails, and streams events as jsonl", async () => {
    const [failed, completed] = await Promise.all([
      cli(["workflow", "execute", "broken", "-o", "jsonl"]),
      json(["workflow", "execute", "steps", "--input", '{"n":3,"ms":20}']),
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    const events = failed.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const runId = events[0].runId;
    assert.ok(events.every((e) => e.runId === runId && typeof e.type === "string"));
    assert.ok(events.some((e) => e.type === "step:failed" && e.name === "explode"));
    const last = events.at(-1);
    assert.equal(last.type, "run:finished");
    assert.equal(last.status, "failed");
    assert.equal(last.error.code, "STEP_FAILED");

    assert.equal(completed.status, "completed");
    assert.deepEqual(completed.output, { done: ["step-1", "step-2", "step-3"] });
    assert.deepEqual(
      completed.events.filter((e: any) => e.type === "step:completed").map((e: any) => e.name),
      ["step-1", "step-2", "step-3"],
    );
  });

  it("bulk cancel lists the runs without --yes (exit 1, nothing changed) and cancels them with it", async () => {
    const ids = ["rb-1", "rb-2", "rb-3"];
    await Promise.all(ids.map((runId, i) => server.client.start("reserve", { seat: `${i}C` }, { runId })));
    await Promise.all(ids.map((id) => until(id, "waiting")));

    const dry = await json(
      ["workflow", "cancel", "--filter-workflow", "reserve", "--filter-status", "waiting"],
      1,
    );
    assert.equal(dry.matched, 3);
    assert.deepEqual(dry.runs.map((r: any) => r.runId).sort(), ids);
    assert.equal(dry.error.code, "INVALID_ARGUMENT");
    assert.match(dry.error.message, /3 runs would be cancelled; nothing was changed: add --yes/);
    const table = await cli(["workflow", "cancel", "--filter-workflow", "reserve"]);
    assert.equal(table.code, 1);
    assert.match(table.stdout, /rb-1/);
    assert.match(table.stderr, /add --yes to cancel them/);
    for (const id of ids) assert.equal((await server.client.describe(id)).cancelRequested, false);

    const done = await jsonl(["workflow", "cancel", "--filter-workflow", "reserve", "--yes"]);
    assert.deepEqual(
      done.map((o) => [o.runId, o.ok]).sort(),
      ids.map((id) => [id, true]),
    );
    for (const id of ids)
      assert.equal((await server.client.result(id, { timeoutMs: 10_000 })).status, "cancelled");

    // terminate likewise.
    await Promise.all([
      server.client.start("reserve", { seat: "4D" }, { runId: "rt-1" }),
      server.client.start("reserve", { seat: "5E" }, { runId: "rt-2" }),
    ]);
    await Promise.all([until("rt-1", "waiting"), until("rt-2", "waiting")]);
    const terminated = await json([
      "workflow",
      "terminate",
      "--filter-workflow",
      "reserve",
      "--filter-status",
      "waiting",
      "--reason",
      "bulk",
      "--yes",
    ]);
    assert.equal(terminated.matched, 2);
    assert.equal(terminated.accepted, 2);
    for (const id of ["rt-1", "rt-2"]) {
      const run = await server.client.describe(id);
      assert.equal(run.status, "terminated");
      assert.equal(run.error?.message, "bulk");
    }
  });

  it("describes task queues and sets their limits", async () => {
    await server.client.start("handoff", { to: "ann@example.com" }, { runId: "rq-1" });
    await until("rq-1", "waiting");
    const [described, listed, missing] = await Promise.all([
      json(["task-queue", "describe", "cli-emails"]),
      jsonl(["task-queue", "list"]),
      json(["task-queue", "describe", "no-such-queue"], 1),
    ]);
    assert.equal(described.queue, "cli-emails");
    assert.equal(described.queued, 1);
    assert.equal(described.leased, 0);
    assert.ok(listed.some((q) => q.queue === "cli-emails" && q.queued === 1));
    assert.equal(missing.error.code, "QUEUE_NOT_FOUND");

    const limited = await json(["task-queue", "limits", "cli-emails", "--concurrency", "2", "--rate", "1.5"]);
    assert.equal(limited.concurrency, 2);
    assert.equal(limited.ratePerSecond, 1.5);
    const text = await cli(["task-queue", "limits", "cli-emails", "--concurrency", "none"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^concurrency\s+unlimited$/m);
    assert.match(text.stdout, /^rate\s+1\.5\/s$/m);
  });

  it("prints no colour when stdout is not a terminal, unless FORCE_COLOR asks; usage and network errors", async () => {
    const [plain, forced, both, unreachable] = await Promise.all([
      cli(["workflow", "list"], { NO_COLOR: undefined, CI: "1" }),
      cli(["workflow", "list"], { NO_COLOR: undefined, FORCE_COLOR: "1" }),
      cli(["--db", "x.db", "workflow", "list"]),
      runCli(["--address", "http://127.0.0.1:1", "workflow", "list"], { cwd: dir }),
    ]);
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, /RUN ID/);
    assert.ok(!plain.stdout.includes(ESC), "no escape codes in a pipe");
    assert.ok(forced.stdout.includes(`${ESC}[`), "FORCE_COLOR colours");
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^error INVALID_ARGUMENT: --address talks to a server/m);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^error SERVER_UNAVAILABLE: cannot reach the Dirigent server/m);
  });

  // Last: the schedule routes came last to the server.
  it("creates, lists, pauses, resumes, triggers and deletes schedules", async () => {
    const created = await json([
      "schedule",
      "create",
      "cli-nightly",
      "--cron",
      "0 3 * * *",
      "--workflow",
      "greet",
      "--input",
      '{"name":"cron"}',
    ]);
    assert.equal(created.scheduleId, "cli-nightly");
    assert.equal(created.paused, false);
    assert.equal(typeof created.nextFireAt, "number");

    const [listed, paused] = await Promise.all([
      jsonl(["schedule", "list"]),
      json(["schedule", "pause", "cli-nightly"]),
    ]);
    assert.deepEqual(
      listed.map((s) => [s.scheduleId, s.workflow, s.cron]),
      [["cli-nightly", "greet", "0 3 * * *"]],
    );
    assert.equal(paused.paused, true);
    const [resumed, triggered] = await Promise.all([
      json(["schedule", "resume", "cli-nightly"]),
      json(["schedule", "trigger", "cli-nightly"]),
    ]);
    assert.equal(resumed.paused, false);
    assert.equal(triggered.scheduleId, "cli-nightly");
    assert.match(triggered.runId, /^cli-nightly@/);
    const run = await server.client.result(triggered.runId, { timeoutMs: 10_000 });
    assert.deepEqual(run.output, { greeting: "hello cron" });

    const deleted = await json(["schedule", "delete", "cli-nightly"]);
    assert.deepEqual(deleted, { scheduleId: "cli-nightly", deleted: true });
    await assert.rejects(server.client.getSchedule("cli-nightly"), { code: "SCHEDULE_NOT_FOUND" });
  });
});
