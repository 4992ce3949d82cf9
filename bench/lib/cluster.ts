import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { RunStatus } from "../../src/core/types.js";
import { createEngine } from "../../src/runtime/engine.js";
import type { EngineOptions } from "../../src/runtime/options.js";
import type { WorkflowDefinition } from "../../src/runtime/workflow.js";
import { type BenchEngine, FinishTracker } from "./harness.js";
import { perRunFields, roundTripCounter, ServerCounters } from "./pg-counters.js";
import { round } from "./stats.js";
import { createBenchStore } from "./store-factory.js";
import { type MethodUse, meterStore } from "./store-meter.js";
import type { BenchContext } from "./types.js";
import { threeSteps } from "./workflows.js";

const NODE_MAIN = fileURLToPath(new URL("./bench-node.ts", import.meta.url));

/** CLOCK_MONOTONIC in ms, the clock of the nodes' finish lines. */
const monoNow = () => Number(process.hrtime.bigint() / 1_000n) / 1_000;

interface NodeReport {
  nodeId: string;
  finished: number;
  batches: number;
  writes: number;
  roundTrips: number;
  commits: number;
  usage: Record<string, MethodUse>;
}

/** One bench-node.ts process, spoken to over its stdin and stdout. */
class NodeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly replies: { prefix: string; resolve: (line: string) => void }[] = [];
  private ended = false;

  constructor(
    readonly nodeId: string,
    args: string[],
    onLine: (line: string) => void,
  ) {
    this.child = spawn(process.execPath, ["--import", "tsx", NODE_MAIN, ...args], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const i = this.replies.findIndex((r) => line.startsWith(r.prefix));
      if (i >= 0) this.replies.splice(i, 1)[0].resolve(line);
      else onLine(line);
    });
    this.exited = new Promise((resolve) =>
      this.child.on("exit", (code) => {
        this.ended = true;
        for (const r of this.replies.splice(0)) r.resolve("");
        resolve(code);
      }),
    );
  }

  /** Send `command`, resolve with the first line starting with `prefix` ("" if the process ended). */
  ask(command: string | undefined, prefix: string, timeoutMs = 60_000): Promise<string> {
    if (this.ended) return Promise.resolve("");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.nodeId} did not answer "${command ?? prefix}"`)),
        timeoutMs,
      );
      this.replies.push({
        prefix,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      if (command) this.child.stdin!.write(`${command}\n`);
    });
  }
}

/**
 * A multi-node benchmark (`--nodes N`): N engine processes (bench-node.ts) share one fresh PostgreSQL
 * schema and execute the runs; this process starts them through an engine that does not execute
 * (execute: false), exactly as a client of the cluster would, and learns of each finish from the node
 * that finished it. So every run goes the cluster's way: created unowned, a NOTIFY wakes the nodes,
 * one of them claims it (SKIP LOCKED), loads its (empty) journal and executes it.
 */
export async function openBenchCluster(
  ctx: BenchContext,
  workflows: WorkflowDefinition[],
  options: Omit<EngineOptions, "store" | "workflows"> = {},
): Promise<BenchEngine> {
  const n = ctx.nodes ?? 0;
  if (ctx.store !== "postgres") throw new Error("--nodes needs --store postgres");
  if (workflows.length !== 1 || workflows[0] !== threeSteps) {
    throw new Error("--nodes supports the benchmarks of the 3-step workflow (throughput, latency)");
  }
  const bench = await createBenchStore("postgres", { pgUrl: ctx.pgUrl });
  if (!bench.schema) throw new Error("the PostgreSQL bench store has no schema");
  ctx.log(`store: ${bench.location}; ${n} node process(es) execute, this process starts runs`);
  const { store, usage } = meterStore(bench.store);
  const engine = createEngine({ store, workflows, ...options, execute: false });
  const errors: { error: unknown; context: string }[] = [];
  engine.events.on("engine:error", (e) => errors.push(e));
  await engine.start(); // migrates the schema before the nodes open it
  const finishes = new FinishTracker();
  const offset = monoNow() - performance.now();
  const cached = ctx.maxCachedRuns === undefined ? [] : [String(ctx.maxCachedRuns)];
  const onLine = (nodeId: string) => (line: string) => {
    const [kind, ...rest] = line.split(" ");
    if (kind === "f") finishes.record(rest[0], rest[1] as RunStatus, Number(rest[2]) - offset);
    else if (kind === "e") errors.push({ error: new Error(rest.join(" ")), context: nodeId });
  };
  const nodes: NodeProcess[] = [];
  for (let i = 1; i <= n; i++) {
    const nodeId = `bench-node-${i}`;
    nodes.push(new NodeProcess(nodeId, [ctx.pgUrl, bench.schema, nodeId, ...cached], onLine(nodeId)));
  }
  await Promise.all(nodes.map((node) => node.ask(undefined, "ready")));
  const server = new ServerCounters(ctx.pgUrl);
  const starter = roundTripCounter(bench.store);
  let base = { batches: 0, writes: 0 };
  let nodeBatches = { batches: 0, writes: 0 };

  const self: BenchEngine = {
    engine,
    nodes: n,
    store,
    usage,
    finishes,
    errors,
    resetCounters() {
      usage.clear();
      const s = engine.stats();
      base = { batches: s.batches, writes: s.writes };
      nodeBatches = { batches: 0, writes: 0 };
      starter?.reset();
    },
    async reset() {
      self.resetCounters();
      await Promise.all(nodes.map((node) => node.ask("reset", "reset-ok")));
      await server.reset();
    },
    batcherSince() {
      const s = engine.stats();
      return {
        batches: s.batches - base.batches + nodeBatches.batches,
        writes: s.writes - base.writes + nodeBatches.writes,
      };
    },
    async collect(runs) {
      const reports: NodeReport[] = [];
      for (const node of nodes) {
        const line = await node.ask("report", "report ");
        if (line) reports.push(JSON.parse(line.slice("report ".length)) as NodeReport);
      }
      const own = starter?.since() ?? { roundTrips: 0, commits: 0 };
      const total = { roundTrips: own.roundTrips, commits: own.commits };
      for (const r of reports) {
        total.roundTrips += r.roundTrips;
        total.commits += r.commits;
        nodeBatches.batches += r.batches;
        nodeBatches.writes += r.writes;
        for (const [method, use] of Object.entries(r.usage)) {
          const mine = usage.get(method) ?? { calls: 0, blockedMs: 0, settledMs: 0 };
          usage.set(method, {
            calls: mine.calls + use.calls,
            blockedMs: mine.blockedMs + use.blockedMs,
            settledMs: mine.settledMs + use.settledMs,
          });
        }
      }
      return {
        nodes: n,
        runs_per_node: reports.map((r) => r.finished),
        ...perRunFields(total, runs),
        starter_round_trips_per_run: round(own.roundTrips / runs),
        ...(await server.perRun(runs)),
      };
    },
    async close() {
      await Promise.all(
        nodes.map(async (node) => {
          node.child.stdin!.write("stop\n");
          const timer = setTimeout(() => node.child.kill("SIGKILL"), 30_000);
          await node.exited;
          clearTimeout(timer);
        }),
      );
      await engine.stop();
      await bench.dispose();
    },
  };
  self.resetCounters();
  return self;
}
