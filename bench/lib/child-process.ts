import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { StoreKind } from "./store-factory.js";
import type { BenchResult } from "./types.js";

/** Marks the child's result line on stdout. */
export const RESULT_PREFIX = "@@dirigent-bench-result ";

const CHILD_MAIN = fileURLToPath(new URL("./child-main.ts", import.meta.url));

export interface ChildOptions {
  store: StoreKind;
  pgUrl: string;
  quick: boolean;
  coldWal: boolean;
  maxCachedRuns?: number;
  /** `--nodes N`: engine processes that execute the runs (see cluster.ts). */
  nodes?: number;
  /** Folder for a V8 CPU profile of the child (node --cpu-prof), if wanted. */
  cpuProfDir?: string;
  timeoutMs?: number;
}

/**
 * Run one benchmark once in a fresh node process, so every repetition starts from the same heap, RSS
 * and JIT state. The child gets --expose-gc (memory readings are taken after a full GC); its stderr
 * (progress) passes through; its result is the line of stdout that starts with RESULT_PREFIX.
 */
export function runInChild(name: string, options: ChildOptions): Promise<BenchResult> {
  const args = ["--expose-gc", "--import", "tsx"];
  if (options.cpuProfDir) args.push("--cpu-prof", "--cpu-prof-dir", options.cpuProfDir);
  args.push(CHILD_MAIN, name, "--store", options.store, "--pg-url", options.pgUrl);
  if (options.quick) args.push("--quick");
  if (options.coldWal) args.push("--cold-wal");
  if (options.maxCachedRuns !== undefined) args.push("--max-cached-runs", String(options.maxCachedRuns));
  if (options.nodes !== undefined) args.push("--nodes", String(options.nodes));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`benchmark ${name} did not finish within ${options.timeoutMs} ms`));
    }, options.timeoutMs ?? 900_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new Error(`benchmark ${name} ${why}${line ? "" : " without a result"}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchResult);
    });
  });
}
