// kill -9 a node in the middle of DSL runs and restart it: no HTTP call whose completion was committed
// is sent again, every call's effect is applied exactly once (the demo services count calls and effects
// per Idempotency-Key), and every run completes with the right output.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type OrderServices, startOrderServices } from "../../examples/order/services/index.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { crashRunId } from "./fixtures/dsl-crash-node.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/dsl-crash-node.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RUNS = 40;
const CALLS_PER_RUN = 4;
const KILLS = 3;
const DEADLINE_MS = 90_000;

interface Node {
  child: ChildProcess;
  ready: Promise<boolean>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function spawnNode(dbPath: string, services: object, mode: "start" | "resume"): Node {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", FIXTURE, dbPath, JSON.stringify(services), mode, String(RUNS)],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => {
    err = (err + c).slice(-8_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line === "ready") resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  return { child, ready, exited, stderr: () => err };
}

type Ledger = Record<string, { received: number; applied: number }>;

async function ledgers(s: OrderServices): Promise<Ledger> {
  const all: Ledger = {};
  for (const url of [s.payments, s.shipping, s.notifications]) {
    const l = (await (await fetch(`${url}/_ledger`)).json()) as { byKey: Ledger };
    for (const [k, v] of Object.entries(l.byKey)) {
      assert.ok(!all[k], `key ${k} used on two services`);
      all[k] = v;
    }
  }
  return all;
}

async function completedCalls(dbPath: string): Promise<Set<string>> {
  const store = new SqliteStore({ path: dbPath });
  try {
    const keys = new Set<string>();
    for (let i = 0; i < RUNS; i++) {
      for (const e of await store.loadJournal(crashRunId(i))) {
        if (e.kind === "step" && e.status === "completed") keys.add(`${crashRunId(i)}:${e.seq}`);
      }
    }
    return keys;
  } finally {
    await store.close();
  }
}

describe("dsl: kill -9 mid-run", () => {
  it("resumes without repeating completed calls; each call's effect applied once", {
    timeout: DEADLINE_MS + 30_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "dsl-crash-"));
    const dbPath = join(dir, "crash.db");
    const services = await startOrderServices();
    // The effect is applied, then the answer waits: a kill in between leaves a call in flight.
    for (const url of [services.payments, services.shipping, services.notifications]) {
      await fetch(`${url}/_control`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // Slow enough that the workload outlasts every planned kill even on a fast, idle machine.
        body: JSON.stringify({ delayMs: 60 }),
      });
    }
    const urls = { payments: services.payments, shipping: services.shipping, notify: services.notifications };
    const snapshots: { completed: Set<string>; ledger: Ledger }[] = [];
    let node: Node | undefined;
    const deadline = Date.now() + DEADLINE_MS;
    try {
      let kills = 0;
      for (let round = 0; ; round++) {
        assert.ok(Date.now() < deadline, "the workload did not finish in time");
        node = spawnNode(dbPath, urls, round === 0 ? "start" : "resume");
        const ready = await node.ready;
        if (ready && kills < KILLS) {
          await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 200)));
          node.child.kill("SIGKILL");
        }
        const exit = await node.exited;
        if (exit.signal === "SIGKILL") {
          kills++;
          // The process is gone: the database holds what it committed, the ledger what it sent.
          snapshots.push({ completed: await completedCalls(dbPath), ledger: await ledgers(services) });
          continue;
        }
        assert.equal(exit.code, 0, `node exited with ${JSON.stringify(exit)}:\n${node.stderr()}`);
        break;
      }
      node = undefined;
      assert.equal(kills, KILLS, "every planned kill landed before the workload finished");

      const store = new SqliteStore({ path: dbPath });
      try {
        for (let i = 0; i < RUNS; i++) {
          const run = await store.getRun(crashRunId(i));
          assert.equal(run?.status, "completed", `${crashRunId(i)}: ${JSON.stringify(run?.error)}`);
          assert.equal((run!.output as any).orderId, `o-${i}`);
          assert.match((run!.output as any).charge, /^ch_\d+$/);
        }
      } finally {
        await store.close();
      }
      const final = await ledgers(services);
      const keys = Object.keys(final);
      assert.equal(keys.length, RUNS * CALLS_PER_RUN, "one key per call");
      for (const [key, entry] of Object.entries(final)) assert.equal(entry.applied, 1, `effect of ${key}`);
      let resent = 0;
      for (const [k, snap] of snapshots.entries()) {
        assert.ok(
          snap.completed.size > 0 && snap.completed.size < RUNS * CALLS_PER_RUN,
          `kill ${k + 1} landed mid-way`,
        );
        for (const key of snap.completed) {
          assert.equal(
            final[key].received,
            snap.ledger[key].received,
            `${key} was sent again after it completed`,
          );
        }
      }
      for (const e of Object.values(final)) resent += e.received - 1;
      console.log(
        `dsl crash test: runs=${RUNS} calls=${keys.length} kills=${kills} ` +
          `completed_at_kills=[${snapshots.map((s) => s.completed.size).join(",")}] resent_in_flight_calls=${resent}`,
      );
    } finally {
      node?.child.kill("SIGKILL");
      if (node) await node.exited;
      await services.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
