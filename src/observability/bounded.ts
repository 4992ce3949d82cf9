/**
 * A Map that forgets its oldest entries, so bookkeeping about runs (start times, workflow names) stays
 * bounded however many runs wait for days. A forgotten entry is looked up elsewhere (the store) or
 * left out; it never grows memory. Two generations of at most `max / 2` entries each: when the young
 * one fills up it becomes the old one and the old one is dropped, all in O(1). (Evicting one entry at a
 * time from the front of a Map is slow in V8: deleted slots pile up where iteration starts.)
 */
export class BoundedMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  get(key: K): V | undefined {
    // One lookup in the common case; an entry whose value is undefined is looked up twice, harmlessly.
    const value = this.young.get(key);
    return value !== undefined ? value : this.old.get(key);
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  set(key: K, value: V): void {
    this.old.delete(key);
    this.young.set(key, value);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  delete(key: K): boolean {
    const a = this.young.delete(key);
    const b = this.old.delete(key);
    return a || b;
  }

  /** Remove and return the value. */
  take(key: K): V | undefined {
    const value = this.get(key);
    this.delete(key);
    return value;
  }

  *values(): Generator<V> {
    yield* this.old.values();
    yield* this.young.values();
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}

/** The label value used once a label has seen `maxValues` distinct values. */
export const OTHER_LABEL = "_other";

/**
 * Keeps a label's cardinality bounded: the first `maxValues` distinct values pass through, later new
 * ones become `_other`. Workflow, step and queue names come from code and config, but a step named
 * after a loop index would otherwise create a time series per iteration.
 */
export class LabelLimiter {
  private readonly seen = new Set<string>();

  constructor(private readonly maxValues: number) {}

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.maxValues) return OTHER_LABEL;
    this.seen.add(raw);
    return raw;
  }
}

/** The run id and seq of an idempotency key `<runId>:<seq>` (run ids may contain ":"). */
export function splitStepKey(key: string): { runId: string; seq: number } | undefined {
  const i = key.lastIndexOf(":");
  if (i <= 0) return undefined;
  const seq = Number(key.slice(i + 1));
  if (!Number.isInteger(seq) || seq < 0) return undefined;
  return { runId: key.slice(0, i), seq };
}
