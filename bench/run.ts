/**
 * Dirigent benchmarks. Each benchmark runs --repeat times, each time in a fresh child process; the
 * table and the JSON lines (printed last, one per benchmark) give the medians.
 *
 *   npm run bench                                   every benchmark on SQLite, 3 repetitions each
 *   npm run bench -- throughput --store postgres    one benchmark on PostgreSQL
 *   npm run bench -- --quick --repeat 1             a smoke run with smaller sizes
 *   npm run bench -- throughput --store postgres --nodes 2   two engine processes execute the runs
 */
import { mkdirSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BENCHMARKS, findBenchmark } from "./benchmarks/index.js";
import { runInChild } from "./lib/child-process.js";
import { type BenchOutcome, jsonLine, meetsTarget, renderTable } from "./lib/report.js";
import { medianOfResults } from "./lib/stats.js";
import { assertStoreAvailable, DEFAULT_PG_URL, type StoreKind } from "./lib/store-factory.js";
import type { BenchResult } from "./lib/types.js";

const USAGE = `usage: npm run bench -- [name...] [--store sqlite|postgres] [--pg-url URL] [--repeat N] [--quick] [--cold-wal] [--max-cached-runs N] [--nodes N] [--cpu-prof]

benchmarks:
${BENCHMARKS.map((b) => `  ${b.name.padEnd(15)} ${b.describe}`).join("\n")}

options:
  --store sqlite|postgres  backend (default sqlite: a fresh temp file, synchronous=FULL)
  --pg-url URL             PostgreSQL server (default ${DEFAULT_PG_URL}); a fresh schema per run
  --repeat N               run each benchmark N times, each in a fresh process; report medians (default 3)
  --quick                  smaller sizes, for a smoke run
  --cold-wal               SQLite: skip priming the write-ahead log (measure a just-created file)
  --max-cached-runs N      engine option maxCachedRuns (default: the engine's, 1,000 suspended runs kept hot)
  --nodes N                PostgreSQL, throughput and latency: N engine processes on one schema execute the
                           runs, which the benchmark process starts without executing (default: it executes them)
  --cpu-prof               write a V8 CPU profile of every child to bench/.profiles/`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseCli() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        store: { type: "string", default: "sqlite" },
        "pg-url": { type: "string", default: DEFAULT_PG_URL },
        repeat: { type: "string", default: "3" },
        quick: { type: "boolean", default: false },
        "cold-wal": { type: "boolean", default: false },
        "max-cached-runs": { type: "string" },
        nodes: { type: "string" },
        "cpu-prof": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
}

const { values, positionals } = parseCli();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const store = values.store as StoreKind;
if (store !== "sqlite" && store !== "postgres") fail(`--store must be sqlite or postgres, not "${store}"`);
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1)
  fail(`--repeat must be a positive integer, not "${values.repeat}"`);
const maxCachedRuns = values["max-cached-runs"] === undefined ? undefined : Number(values["max-cached-runs"]);
if (maxCachedRuns !== undefined && (!Number.isInteger(maxCachedRuns) || maxCachedRuns < 0)) {
  fail(`--max-cached-runs must be a non-negative integer, not "${values["max-cached-runs"]}"`);
}
const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1 || nodes > 16)) {
  fail(`--nodes must be an integer from 1 to 16, not "${values.nodes}"`);
}
if (nodes !== undefined && store !== "postgres") fail("--nodes needs --store postgres");
const selected = positionals.length
  ? positionals.map((name) => findBenchmark(name) ?? fail(`unknown benchmark "${name}"`))
  : BENCHMARKS;
const MULTI_NODE = ["throughput", "latency"];
if (nodes !== undefined && selected.some((b) => !MULTI_NODE.includes(b.name))) {
  fail(`--nodes applies to ${MULTI_NODE.join(" and ")} only: name them`);
}
try {
  await assertStoreAvailable(store);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
let cpuProfDir: string | undefined;
if (values["cpu-prof"]) {
  cpuProfDir = fileURLToPath(new URL("./.profiles/", import.meta.url));
  mkdirSync(cpuProfDir, { recursive: true });
}

const log = (message: string) => process.stderr.write(`${message}\n`);
const settings = [
  `${repeat} repetition(s)`,
  values.quick ? "quick sizes" : undefined,
  values["cold-wal"] ? "cold WAL" : undefined,
  maxCachedRuns === undefined ? undefined : `maxCachedRuns ${maxCachedRuns}`,
  nodes === undefined ? undefined : `${nodes} node process(es)`,
].filter(Boolean);
const machine = `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB`;
log(
  `dirigent bench: ${selected.map((b) => b.name).join(", ")} on ${store}; ${settings.join(", ")}; ${machine}`,
);

const outcomes: BenchOutcome[] = [];
const failures: string[] = [];
for (const bench of selected) {
  const results: BenchResult[] = [];
  for (let i = 1; i <= repeat; i++) {
    log(`${bench.name} ${i}/${repeat}`);
    try {
      const result = await runInChild(bench.name, {
        store,
        pgUrl: values["pg-url"]!,
        quick: values.quick!,
        coldWal: values["cold-wal"]!,
        maxCachedRuns,
        nodes,
        cpuProfDir,
      });
      results.push(result);
      const met = meetsTarget(bench, result);
      log(
        `  ${bench.target.field} = ${result[bench.target.field]}${met === false ? " (target missed)" : ""}`,
      );
    } catch (error) {
      failures.push(`${bench.name}: ${(error as Error).message}`);
      break;
    }
  }
  if (results.length === repeat) outcomes.push({ bench, results, median: medianOfResults(results) });
}

if (cpuProfDir) log(`CPU profiles in ${cpuProfDir} (open them in Chrome DevTools or speedscope)`);
if (outcomes.length) {
  console.log(renderTable(outcomes, repeat));
  const meta = { repeat, quick: values.quick!, coldWal: values["cold-wal"]!, maxCachedRuns };
  for (const outcome of outcomes) console.log(jsonLine(outcome, meta));
}
if (failures.length) {
  for (const f of failures) console.error(`FAILED ${f}`);
  process.exit(1);
}
