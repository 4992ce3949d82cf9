import { setTimeout as delay } from "node:timers/promises";
import type { Engine } from "../runtime/engine.js";

export type IdleOutcome = "idle" | "timeout" | "interrupted";

/**
 * Let an executing engine work until nothing more can happen within `waitMs`: no run is executing on
 * it, and no run in the store is due (a timer, retry backoff or expired lease) before the deadline.
 * Runs left waiting on a signal, or on a timer due after the deadline, stay durably suspended.
 *
 * Why two looks: a claimed run is briefly neither in the store's due set nor active on the engine
 * (while its journal loads), so idleness must hold twice, `pollMs` apart, with no claim in between.
 */
export async function runUntilIdle(
  engine: Engine,
  options: { waitMs: number; signal?: AbortSignal; pollMs?: number },
): Promise<IdleOutcome> {
  const { waitMs, signal, pollMs = 20 } = options;
  const deadline = Date.now() + waitMs;
  let claims = 0;
  const off = engine.events.on("run:claimed", () => {
    claims++;
  });
  const pause = async (): Promise<void> => {
    await delay(Math.max(1, Math.min(pollMs, deadline - Date.now())), undefined, { signal }).catch(() => {});
  };
  try {
    for (;;) {
      if (signal?.aborted) return "interrupted";
      if (Date.now() >= deadline) return "timeout";
      const seen = claims;
      if (await isIdle(engine, deadline)) {
        await pause();
        if (signal?.aborted) return "interrupted";
        if (claims === seen && (await isIdle(engine, deadline))) return "idle";
        continue;
      }
      await pause();
    }
  } finally {
    off();
  }
}

async function isIdle(engine: Engine, deadline: number): Promise<boolean> {
  if (engine.stats().active > 0) return false;
  const next = await engine.store.nextWakeAt();
  return next === undefined || next > deadline;
}
