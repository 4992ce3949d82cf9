import type { Clock, TimerHandle } from "../core/clock.js";

/**
 * The engine's one wake-up: a single timer held at the earliest time some work is due (a timer or
 * retry this node scheduled, the store's next due run, or the poll interval as a fallback), so that
 * however many wake-ups are asked for, one timer is pending.
 */
export class WakeTimer {
  private timer: { handle: TimerHandle; due: number } | undefined;

  /**
   * @param fire the work to do when the timer fires
   * @param enabled false while the engine does not execute: no timer is armed then
   */
  constructor(
    private readonly clock: Clock,
    private readonly pollIntervalMs: number,
    private readonly fire: () => void,
    private readonly enabled: () => boolean,
  ) {}

  /** Make sure the timer fires by `due` (something this node just scheduled). */
  wakeBy(due: number): void {
    if (this.timer && this.timer.due <= due) return;
    this.arm(due);
  }

  /** After a claim pass: fire at the store's next due time `next`, or within the poll interval. */
  afterClaim(next: number | undefined): void {
    const now = this.clock.now();
    const fallback = now + this.pollIntervalMs;
    const due = next !== undefined && next < fallback ? Math.max(next, now) : fallback;
    if (this.timer && this.timer.due <= due && this.timer.due > now) return;
    this.arm(due);
  }

  cancel(): void {
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
  }

  private arm(due: number): void {
    if (!this.enabled()) return;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    const handle = this.clock.setTimeout(() => {
      if (this.timer?.handle === handle) this.timer = undefined;
      this.fire();
    }, due - this.clock.now());
    this.timer = { handle, due };
  }
}
