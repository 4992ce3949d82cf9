/** Clocks, memory readings and polling helpers for benchmark children. */

/** Monotonic milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.now();
}

/** Resident set size of this process in MiB. */
export function rssMb(): number {
  return process.memoryUsage.rss() / 1_048_576;
}

/** The highest resident set size this process reached, in MiB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * Collect garbage thoroughly: several full collections with event-loop turns between them, so
 * finalizers and weak references settle. Refuses to run without --expose-gc (a reading after no GC
 * would be meaningless).
 */
export async function fullGc(): Promise<void> {
  // globalThis.gc exists only under --expose-gc, which the child runner always passes.
  if (typeof globalThis.gc !== "function") throw new Error("run the benchmark child with --expose-gc");
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** RSS after a full GC, as the median of a few readings taken an event-loop turn apart. */
export async function settledRssMb(): Promise<number> {
  await fullGc();
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(rssMb());
    await new Promise((r) => setTimeout(r, 20));
  }
  readings.sort((a, b) => a - b);
  return readings[2];
}

/** Poll `check` every `intervalMs` until it returns true; reject after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 120_000, intervalMs = 25 } = {},
): Promise<void> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (nowMs() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
