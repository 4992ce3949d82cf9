/**
 * One extra engine process of a multi-node benchmark (`--nodes N`): an engine on a metered
 * PostgresStore of the benchmark's schema, executing the benchmark workflows. Started by cluster.ts.
 *
 *   node --import tsx bench/lib/bench-node.ts <pgUrl> <schema> <nodeId> [maxCachedRuns]
 *
 * stdout, one line each: `ready`; `f <runId> <status> <monoMs>` for every run it finished
 * (CLOCK_MONOTONIC, the same clock in every process of the machine); `e <context>: <message>` for an
 * engine error; `reset-ok`; `report <json>`. stdin commands: `reset` (forget the counts so far),
 * `report` (print them), `stop` (graceful stop, then exit 0).
 */
import { createInterface } from "node:readline";
import { createEngine } from "../../src/runtime/engine.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { meterStore } from "./store-meter.js";
import { threeSteps } from "./workflows.js";

const [pgUrl, schema, nodeId, cached] = process.argv.slice(2);
if (!pgUrl || !schema || !nodeId) {
  console.error("usage: bench-node.ts <pgUrl> <schema> <nodeId> [maxCachedRuns]");
  process.exit(64);
}

const pgStore = new PostgresStore({ connectionString: pgUrl, schema });
const { store, usage } = meterStore(pgStore);
const engine = createEngine({
  store,
  workflows: [threeSteps],
  nodeId,
  ...(cached === undefined ? {} : { maxCachedRuns: Number(cached) }),
});

let out: string[] = [];
const emit = (line: string) => {
  if (out.length === 0) setImmediate(flush);
  out.push(line);
};
const flush = () => {
  const text = out.join("\n");
  out = [];
  if (text) process.stdout.write(`${text}\n`);
};

let finished = 0;
engine.events.on("run:finished", ({ runId, status }) => {
  finished++;
  emit(`f ${runId} ${status} ${Number(process.hrtime.bigint() / 1_000n) / 1_000}`);
});
engine.events.on("engine:error", ({ error, context }) => {
  emit(`e ${context}: ${String((error as Error)?.message ?? error).replace(/\s+/g, " ")}`);
});

let base = { store: pgStore.stats(), batches: 0, writes: 0, finished: 0 };
const reset = () => {
  usage.clear();
  const s = engine.stats();
  base = { store: pgStore.stats(), batches: s.batches, writes: s.writes, finished };
};

await engine.start();
reset();
emit("ready");

createInterface({ input: process.stdin }).on("line", async (command) => {
  if (command === "reset") {
    reset();
    emit("reset-ok");
  } else if (command === "report") {
    const s = engine.stats();
    const now = pgStore.stats();
    const report = {
      nodeId,
      finished: finished - base.finished,
      batches: s.batches - base.batches,
      writes: s.writes - base.writes,
      roundTrips: now.roundTrips - base.store.roundTrips,
      commits: now.commits - base.store.commits,
      usage: Object.fromEntries(usage),
    };
    emit(`report ${JSON.stringify(report)}`);
  } else if (command === "stop") {
    await engine.stop();
    await pgStore.close();
    flush();
    process.exit(0);
  }
});
