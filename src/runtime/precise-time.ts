/**
 * Wall-clock now in milliseconds with the monotonic clock's resolution (Date.now() is whole ms). For
 * the times observers are told (when a claim or a step attempt began, span ends), never for what the
 * engine decides: that goes by its injectable Clock.
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
