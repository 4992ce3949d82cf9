import type { Benchmark } from "../lib/types.js";
import { httpOverhead } from "./http-overhead.js";
import { latency } from "./latency.js";
import { longHistory } from "./long-history.js";
import { observabilityCost } from "./observability-cost.js";
import { throughput } from "./throughput.js";
import { waitingMemory } from "./waiting-memory.js";
import { workerThroughput } from "./worker-throughput.js";

/** Every benchmark, in the order `npm run bench` runs them. */
export const BENCHMARKS: readonly Benchmark[] = [
  throughput,
  latency,
  waitingMemory,
  longHistory,
  workerThroughput,
  httpOverhead,
  observabilityCost,
];

export function findBenchmark(name: string): Benchmark | undefined {
  return BENCHMARKS.find((b) => b.name === name);
}
