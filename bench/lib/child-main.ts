/**
 * Entry point of one benchmark child process: runs one benchmark once and prints its result as the
 * last line of stdout, after RESULT_PREFIX. Started by child-process.ts with --expose-gc.
 *
 *   node --expose-gc --import tsx bench/lib/child-main.ts <name> [--store sqlite|postgres] [--pg-url URL] [--quick] [--cold-wal] [--max-cached-runs N] [--nodes N]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { findBenchmark } from "../benchmarks/index.js";
import { RESULT_PREFIX } from "./child-process.js";
import { DEFAULT_PG_URL, type StoreKind } from "./store-factory.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    store: { type: "string", default: "sqlite" },
    "pg-url": { type: "string", default: DEFAULT_PG_URL },
    quick: { type: "boolean", default: false },
    "cold-wal": { type: "boolean", default: false },
    "max-cached-runs": { type: "string" },
    nodes: { type: "string" },
  },
});

const bench = findBenchmark(positionals[0] ?? "");
if (!bench) {
  console.error(`unknown benchmark "${positionals[0]}"`);
  process.exit(2);
}
const store = values.store as StoreKind;
const result = await bench.run({
  store,
  pgUrl: values["pg-url"]!,
  quick: values.quick!,
  coldWal: values["cold-wal"]!,
  maxCachedRuns: values["max-cached-runs"] === undefined ? undefined : Number(values["max-cached-runs"]),
  nodes: values.nodes === undefined ? undefined : Number(values.nodes),
  log: (message) => process.stderr.write(`  [${bench.name}] ${message}\n`),
});
// How busy the machine was (other processes compete for the 2 cores and the disk): 1-minute load.
result.load_1m = Math.round(loadavg()[0] * 100) / 100;
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
