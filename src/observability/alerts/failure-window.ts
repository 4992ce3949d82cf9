/**
 * Finished runs and failures over a sliding window, in 60 buckets (so memory does not grow with the
 * rate of runs; the window's edge moves in steps of windowMs / 60). Counts what this node saw finish.
 */
export class FailureWindow {
  private readonly bucketMs: number;
  private readonly buckets = new Map<number, { total: number; failed: number }>();

  constructor(private readonly windowMs: number) {
    this.bucketMs = Math.max(1, Math.ceil(windowMs / 60));
  }

  record(now: number, failed: boolean): void {
    const index = Math.floor(now / this.bucketMs);
    let b = this.buckets.get(index);
    if (!b) this.buckets.set(index, (b = { total: 0, failed: 0 }));
    b.total++;
    if (failed) b.failed++;
    this.prune(now);
  }

  counts(now: number): { total: number; failed: number } {
    this.prune(now);
    let total = 0;
    let failed = 0;
    for (const b of this.buckets.values()) {
      total += b.total;
      failed += b.failed;
    }
    return { total, failed };
  }

  private prune(now: number): void {
    const oldest = Math.floor((now - this.windowMs) / this.bucketMs);
    for (const index of this.buckets.keys()) if (index <= oldest) this.buckets.delete(index);
  }
}

/** A duration for people: "45s", "12m", "3h 20m", "2d 4h". */
export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}
