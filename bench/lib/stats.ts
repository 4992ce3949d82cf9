/** Percentiles and medians for benchmark samples. Pure functions, no I/O. */

/** The q-quantile (0..1) of `values` by linear interpolation between closest ranks (numpy's default). */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError("percentile of no values");
  if (q < 0 || q > 1) throw new RangeError(`quantile ${q} is outside 0..1`);
  const sorted = Float64Array.from(values).sort();
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 0.5);
}

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) throw new RangeError("mean of no values");
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

export interface LatencySummary {
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

export function summarize(samplesMs: ArrayLike<number>): LatencySummary {
  return {
    p50_ms: round(percentile(samplesMs, 0.5)),
    p95_ms: round(percentile(samplesMs, 0.95)),
    p99_ms: round(percentile(samplesMs, 0.99)),
    max_ms: round(percentile(samplesMs, 1)),
  };
}

/** Round to `digits` decimals (3 by default): enough for milliseconds, short enough to read. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A share (0..1) as a percentage for reading; "?" when unknown. */
export function pct(share: unknown): string {
  return typeof share === "number" ? `${Math.round(share * 100)}%` : "?";
}

/**
 * The median of each field over several results of one benchmark, recursively: numbers get the median
 * of their non-null values (null if all were null), arrays of numbers the element-wise median, plain
 * objects the same per key; any other field is taken from the first result.
 */
export function medianOfResults<T>(results: T[]): T {
  if (results.length === 0) throw new RangeError("no results");
  return medianOf(results) as T;
}

function medianOf(values: unknown[]): unknown {
  const first = values.find((v) => v !== null && v !== undefined);
  if (typeof first === "number") {
    const numbers = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    return numbers.length ? round(median(numbers)) : null;
  }
  if (Array.isArray(first)) {
    const arrays = values.filter(Array.isArray);
    return first.map((_, i) => medianOf(arrays.map((a) => a[i])));
  }
  if (first !== null && typeof first === "object") {
    const objects = values.filter((v): v is Record<string, unknown> => v !== null && typeof v === "object");
    return Object.fromEntries(Object.keys(first).map((k) => [k, medianOf(objects.map((o) => o[k]))]));
  }
  return values[0];
}
