/**
 * Time as the engine sees it. Injected so tests move time forward instead of sleeping; the core never
 * reads the real clock itself.
 */
export interface Clock {
  now(): number;
  /**
   * Milliseconds on a clock that never jumps (NTP steps, manual changes), for measuring how long ago
   * something happened; only differences between its values mean anything. Defaults to `now()`.
   */
  monotonic?(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: unknown };

/** Seeded pseudo-random numbers (mulberry32), so a run's ctx.random() replays identically. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit FNV-1a hash of a string, for seeding. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
