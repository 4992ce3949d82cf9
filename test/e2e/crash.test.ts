// End-to-end crash test: a real node process (fixtures/crash-node.ts) running 200 runs of 5 steps is
// killed with SIGKILL at random points and restarted until it finishes by itself. The steps write an
// external ledger (begin/effect lines with their idempotency key and pid); after every kill the test
// reads which steps the database holds as completed. From both it checks that every run completed,
// every step's effect happened, a step ran again only if it was in flight at a kill (with the same
// key), and a step whose completion was committed never ran again.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { CRASH_RUNS, CRASH_STEPS, CRASH_WORKFLOW, crashOutput, crashRunId } from "./fixtures/crash-plan.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/crash-node.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PLANNED_KILLS = 6;
const MIN_KILLS = 5;
const TOTAL_TIMEOUT_MS = 120_000;

interface Incarnation {
  index: number;
  pid: number;
  mode: "start" | "resume";
  killed: boolean;
  killDelayMs?: number;
  /** Step keys whose completion the database held right after this incarnation was killed. */
  completedAfter?: Set<string>;
  /** Keys this incarnation began whose completion was not committed when it was killed. */
  inflight?: Set<string>;
}

interface LedgerLine {
  kind: "begin" | "effect";
  key: string;
  pid: number;
  runId: string;
  step: number;
}

/** A spawned crash node, with its stdout split into lines. */
class NodeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = "";
  private readonly lineWaiters = new Set<() => void>();
  ready = false;
  lastProgress: { completed: number; begun: number } | undefined;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(dbPath: string, ledgerDir: string, mode: "start" | "resume") {
    this.child = spawn(process.execPath, ["--import", "tsx", FIXTURE, dbPath, ledgerDir, mode], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8_000);
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      if (line === "ready") this.ready = true;
      const m = /^progress (\d+) (\d+)$/.exec(line);
      if (m) this.lastProgress = { completed: Number(m[1]), begun: Number(m[2]) };
      for (const fn of [...this.lineWaiters]) fn();
    });
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        for (const fn of [...this.lineWaiters]) fn();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get stderrTail(): string {
    return this.stderr;
  }

  /** Resolve once `cond` holds (checked on every output line) or the process exited; false if it exited. */
  waitUntil(cond: () => boolean, deadline: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (cond()) done(() => resolve(true));
        else if (this.exitInfo) done(() => resolve(false));
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(new Error(`crash node ${this.pid} made no progress in time; stderr:\n${this.stderr}`)),
          ),
        Math.max(0, deadline - Date.now()),
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.lineWaiters.delete(check);
        fn();
      };
      this.lineWaiters.add(check);
      check();
    });
  }

  kill(): void {
    if (!this.exitInfo) this.child.kill("SIGKILL");
  }
}

function withDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Completed step entries in the database, as idempotency keys `<runId>:<seq>`. */
async function completedStepKeys(dbPath: string): Promise<Set<string>> {
  const store = new SqliteStore({ path: dbPath });
  try {
    const keys = new Set<string>();
    for (let i = 0; i < CRASH_RUNS; i++) {
      const runId = crashRunId(i);
      for (const entry of await store.loadJournal(runId)) {
        if (entry.kind === "step" && entry.status === "completed") keys.add(`${runId}:${entry.seq}`);
      }
    }
    return keys;
  } finally {
    await store.close();
  }
}

function readLedger(path: string, kind: "begin" | "effect"): LedgerLine[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  assert.ok(text === "" || text.endsWith("\n"), `${path} ends with a partial line`);
  const pattern = new RegExp(`^${kind} (\\S+) (\\d+) (\\S+) (\\d+)$`);
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const m = pattern.exec(line);
      assert.ok(m, `malformed ledger line in ${path}: ${JSON.stringify(line)}`);
      return { kind, key: m[1], pid: Number(m[2]), runId: m[3], step: Number(m[4]) };
    });
}

function groupByKey(lines: LedgerLine[]): Map<string, LedgerLine[]> {
  const map = new Map<string, LedgerLine[]>();
  for (const line of lines) {
    let list = map.get(line.key);
    if (!list) map.set(line.key, (list = []));
    list.push(line);
  }
  return map;
}

describe("kill -9 a real node and restart it", () => {
  it("completes every run, applies each step's effect per key, re-runs only steps in flight", {
    timeout: TOTAL_TIMEOUT_MS + 30_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "dirigent-crash-"));
    const dbPath = join(dir, "crash.db");
    const beginLog = join(dir, "begin.log");
    const effectLog = join(dir, "effect.log");
    const deadline = Date.now() + TOTAL_TIMEOUT_MS;
    const startedAt = Date.now();
    const incarnations: Incarnation[] = [];
    let current: NodeProcess | undefined;
    try {
      // ---- kill and restart until the node finishes by itself ----------------------------------
      let kills = 0;
      for (;;) {
        assert.ok(incarnations.length < PLANNED_KILLS + 3, "too many restarts");
        const mode = incarnations.length === 0 ? "start" : "resume";
        const node = new NodeProcess(dbPath, dir, mode);
        current = node;
        const inc: Incarnation = { index: incarnations.length, pid: node.pid, mode, killed: false };
        incarnations.push(inc);
        if (kills < PLANNED_KILLS) {
          // Kill only once all runs exist and this process is executing steps, at a random point after.
          const executing = await node.waitUntil(
            () => node.ready && (node.lastProgress?.begun ?? 0) > 0,
            deadline,
          );
          if (executing) {
            inc.killDelayMs = 50 + Math.floor(Math.random() * 350);
            await sleep(inc.killDelayMs);
            node.kill();
          }
        }
        const exit = await withDeadline(node.exited, deadline, `crash node ${node.pid} to exit`);
        if (exit.signal === "SIGKILL") {
          kills++;
          inc.killed = true;
          // The killed process is gone: what the database holds now is what it had committed.
          inc.completedAfter = await completedStepKeys(dbPath);
          inc.inflight = new Set(
            readLedger(beginLog, "begin")
              .filter((l) => l.pid === inc.pid && !inc.completedAfter!.has(l.key))
              .map((l) => l.key),
          );
          continue;
        }
        assert.equal(
          exit.code,
          0,
          `crash node exited with ${JSON.stringify(exit)}; stderr:\n${node.stderrTail}`,
        );
        break;
      }
      current = undefined;
      assert.ok(kills >= MIN_KILLS, `only ${kills} kills happened before the workload finished`);

      // ---- (a) every run completed with the right output, each step journaled once --------------
      const store = new SqliteStore({ path: dbPath });
      const journalKeys = new Map<string, { runId: string; step: number }>();
      try {
        const counts = await store.countRuns({ workflow: CRASH_WORKFLOW });
        assert.equal(counts.completed, CRASH_RUNS, `run counts: ${JSON.stringify(counts)}`);
        for (let i = 0; i < CRASH_RUNS; i++) {
          const runId = crashRunId(i);
          const run = await store.getRun(runId);
          assert.equal(run?.status, "completed", `${runId} is ${run?.status}`);
          assert.deepEqual(run.output, crashOutput(i), `output of ${runId}`);
          const journal = await store.loadJournal(runId);
          assert.deepEqual(
            journal.map((e) => [e.kind, e.name, e.status]),
            Array.from({ length: CRASH_STEPS }, (_, s) => ["step", `s${s + 1}`, "completed"]),
            `journal of ${runId}`,
          );
          journal.forEach((e, s) => {
            journalKeys.set(`${runId}:${e.seq}`, { runId, step: s + 1 });
          });
          assert.deepEqual(await store.listAttempts(runId), [], `no failed attempts in ${runId}`);
        }
      } finally {
        await store.close();
      }
      assert.equal(journalKeys.size, CRASH_RUNS * CRASH_STEPS);

      // ---- the ledger: written only by our processes, one after another -----------------------
      const begins = readLedger(beginLog, "begin");
      const effects = readLedger(effectLog, "effect");
      const incarnationOf = new Map(incarnations.map((inc) => [inc.pid, inc]));
      assert.equal(incarnationOf.size, incarnations.length, "every incarnation has its own pid");
      for (const lines of [begins, effects]) {
        let last = 0;
        for (const line of lines) {
          const inc = incarnationOf.get(line.pid);
          assert.ok(inc, `ledger line from unknown pid ${line.pid}`);
          assert.ok(inc.index >= last, `ledger line of incarnation ${inc.index} after one of ${last}`);
          last = inc.index;
        }
      }

      // Every re-run carries the key of its step: one key per (run, step), the journal's `<runId>:<seq>`.
      for (const line of [...begins, ...effects]) {
        assert.deepEqual(
          journalKeys.get(line.key),
          { runId: line.runId, step: line.step },
          `key ${line.key}`,
        );
      }
      const beginsByKey = groupByKey(begins);
      const effectsByKey = groupByKey(effects);

      // ---- (b) every one of the 1000 keys has its effect -----------------------------------------
      for (const key of journalKeys.keys()) {
        assert.ok((beginsByKey.get(key)?.length ?? 0) >= 1, `step ${key} never began`);
        assert.ok((effectsByKey.get(key)?.length ?? 0) >= 1, `step ${key} has no effect`);
      }

      // ---- (c) a step ran again only if it was in flight at a kill; (d) never after it completed --
      let rerunSteps = 0;
      let duplicateEffects = 0;
      let duplicateEffectKeys = 0;
      for (const [key, lines] of beginsByKey) {
        const effectLines = effectsByKey.get(key) ?? [];
        for (const [what, list] of [
          ["begin", lines],
          ["effect", effectLines],
        ] as const) {
          const pids = list.map((l) => l.pid);
          assert.equal(new Set(pids).size, pids.length, `${what} of ${key} twice in one process: ${pids}`);
          list.forEach((line, n) => {
            const inc = incarnationOf.get(line.pid)!;
            // (d) No incarnation runs a step whose completion an earlier one had committed.
            const before = incarnations[inc.index - 1];
            assert.ok(
              !before?.completedAfter?.has(key),
              `${what} of ${key} in incarnation ${inc.index} although its completion was committed before`,
            );
            // (c) Every line but the last comes from a process killed while that step was in flight.
            if (n < list.length - 1) {
              assert.ok(
                inc.killed && inc.inflight!.has(key),
                `${key} ran again after incarnation ${inc.index}`,
              );
            }
          });
        }
        // The effect that counted is the one of the attempt that completed (the last begin's process).
        assert.equal(
          effectLines.at(-1)?.pid,
          lines.at(-1)!.pid,
          `last effect of ${key} is not from its last run`,
        );
        rerunSteps += lines.length - 1;
        duplicateEffects += effectLines.length - 1;
        if (effectLines.length > 1) duplicateEffectKeys++;
      }

      const killed = incarnations.filter((inc) => inc.killed);
      // Nothing committed is lost across a kill: each snapshot contains the one before.
      for (let k = 1; k < killed.length; k++) {
        for (const key of killed[k - 1].completedAfter!) {
          assert.ok(killed[k].completedAfter!.has(key), `completion of ${key} lost after kill ${k + 1}`);
        }
      }
      const inflightAtKills = killed.map((inc) => inc.inflight!.size);
      const inflightTotal = inflightAtKills.reduce((a, b) => a + b, 0);
      // In flight at a kill with its effect already written: those effects are the duplicates.
      const effectBeforeCommit = killed.reduce(
        (sum, inc) =>
          sum + [...inc.inflight!].filter((k) => effectsByKey.get(k)!.some((l) => l.pid === inc.pid)).length,
        0,
      );
      assert.ok(
        rerunSteps <= inflightTotal,
        `${rerunSteps} steps ran again, only ${inflightTotal} were in flight`,
      );
      assert.ok(duplicateEffectKeys <= inflightTotal, `${duplicateEffectKeys} keys with duplicate effects`);
      // Exact accounting: every step in flight at a kill ran once more, and nothing else did.
      assert.equal(rerunSteps, inflightTotal);
      assert.equal(duplicateEffects, effectBeforeCommit);

      console.log(
        `crash test: runs=${CRASH_RUNS} steps=${journalKeys.size} kills=${kills} ` +
          `kill_delays_ms=[${killed.map((i) => i.killDelayMs).join(",")}] ` +
          `inflight_at_kills=[${inflightAtKills.join(",")}] inflight_total=${inflightTotal} ` +
          `completed_steps_at_kills=[${killed.map((i) => i.completedAfter!.size).join(",")}] ` +
          `rerun_steps=${rerunSteps} duplicate_effects=${duplicateEffects} ` +
          `duplicate_effect_keys=${duplicateEffectKeys} begin_lines=${begins.length} effect_lines=${effects.length} ` +
          `elapsed_ms=${Date.now() - startedAt}`,
      );
    } finally {
      current?.kill();
      if (current)
        await withDeadline(current.exited, Date.now() + 5_000, "killed node to exit").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
