import type { Counter, Registry } from "prom-client";

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: "counter" | "histogram";
  aggregator: "sum";
  get(): Promise<{ name: string; help: string; type: string; aggregator: "sum"; values: Sample[] }>;
  reset(): void;
}

interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** A counter of one label set: `inc()` is a field update, nothing hashed. */
export interface CounterChild {
  inc(by?: number): void;
}

/** A histogram of one label set. */
export interface HistogramChild {
  observe(value: number): void;
}

/**
 * Counters and histograms for the hot path (a few updates per step, thousands of steps a second).
 * prom-client hashes the label object on every update, even through `labels()` children, which cost
 * about 1 µs per step; these keep one record per label set and hand their values to prom-client at
 * scrape time, which formats them like its own (registered with `registry.registerMetric`, whose
 * contract is an object with name, help, type, aggregator and `get()`).
 */
abstract class Base<C> implements Family {
  abstract readonly type: "counter" | "histogram";
  readonly aggregator = "sum" as const;
  protected readonly children = new Map<string, { labels: Labels; child: C }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // A custom metric object: prom-client's types list only its own classes.
    registry.registerMetric(this as unknown as Counter);
  }

  /** The child of one label set, values in the order of `labelNames`. Keep it: lookups cost a join. */
  labels(...values: string[]): C {
    const key = values.join("\u0000");
    let entry = this.children.get(key);
    if (!entry) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = values[i];
      });
      entry = { labels, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  reset(): void {
    this.children.clear();
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.samples(),
    };
  }

  protected abstract create(): C;
  protected abstract samples(): Sample[];
}

export class FastCounter extends Base<CounterChild & { value: number }> {
  readonly type = "counter" as const;

  protected create() {
    return {
      value: 0,
      inc(by = 1) {
        this.value += by;
      },
    };
  }

  protected samples(): Sample[] {
    return [...this.children.values()].map(({ labels, child }) => ({ labels, value: child.value }));
  }
}

export class FastHistogram extends Base<
  HistogramChild & { counts: Float64Array; sum: number; count: number }
> {
  readonly type = "histogram" as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    registry: Registry,
    private readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames, registry);
  }

  protected create() {
    const buckets = this.buckets;
    return {
      counts: new Float64Array(buckets.length),
      sum: 0,
      count: 0,
      observe(value: number) {
        this.sum += value;
        this.count++;
        for (let i = 0; i < buckets.length; i++) {
          if (value <= buckets[i]) {
            this.counts[i]++;
            return;
          }
        }
      },
    };
  }

  protected samples(): Sample[] {
    const out: Sample[] = [];
    for (const { labels, child } of this.children.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += child.counts[i];
        out.push({
          labels: { ...labels, le: String(le) },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      out.push({ labels: { ...labels, le: "+Inf" }, value: child.count, metricName: `${this.name}_bucket` });
      out.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      out.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
