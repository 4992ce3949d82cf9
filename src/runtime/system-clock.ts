import type { Clock, TimerHandle } from "../core/clock.js";

/** The real clock. Timers are unref'd so an idle engine never keeps the process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, Math.min(ms, 2_147_483_647)));
    t.unref();
    return { id: t };
  },
  clearTimeout(handle: TimerHandle) {
    clearTimeout(handle.id as NodeJS.Timeout);
  },
};
