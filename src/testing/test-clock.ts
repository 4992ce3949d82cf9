import type { Clock, TimerHandle } from "../core/clock.js";

interface PendingTimer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * A clock that moves only when told. `advance(ms)` sets the time forward and fires every timer that
 * became due, earliest first, letting the engine's promises settle between them. A timer scheduled
 * while advancing fires in the same advance if it is already due. Tests use it instead of sleeping.
 */
export class TestClock implements Clock {
  private time: number;
  private timers: PendingTimer[] = [];
  private nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = { id: this.nextId++, due: this.time + Math.max(0, ms), fn };
    this.timers.push(t);
    return { id: t.id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle.id);
  }

  /** Move time forward by `ms`, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => t.due <= target).sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.due);
      due.fn();
    }
    this.time = target;
    await settle();
  }

  /** Number of timers not yet fired (for leak checks). */
  get pendingTimers(): number {
    return this.timers.length;
  }
}

/** Let queued promise callbacks and immediates run (several rounds, for chains of awaits). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
