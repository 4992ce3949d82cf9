/**
 * Whether `promise` settles (either way) within `ms` of real time. Shutdown uses it so an unreachable
 * database cannot hold it forever: the wall clock, not the engine's clock, because a test clock that
 * nobody advances would otherwise never time out. The timer is not unref'd: the caller's await must end
 * (an idle event loop would otherwise exit with it pending), and it is cleared as soon as `promise` settles.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
