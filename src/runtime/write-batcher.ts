import type { Store, WriteOp, WriteResult } from "../store/store.js";

interface Pending {
  op: WriteOp;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit. Operations submitted while the event loop is busy are written together in one store
 * transaction, so one fsync acknowledges many runs' progress. Each caller still awaits its own
 * operation's durability: nothing resolves before its transaction committed. Order is kept: operations
 * are applied in the order they were submitted, and a batch starts only after the previous committed.
 */
export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;
  /** Number of transactions committed and operations written (for benchmarks and metrics). */
  readonly stats = { batches: 0, ops: 0 };

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 2_000,
  ) {}

  submit(op: WriteOp): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is written. */
  async drain(): Promise<void> {
    while (this.queue.length || this.flushing) {
      if (this.flushing) await this.flushing;
      else await this.flush();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // setImmediate, not a microtask: lets every run that is ready in this turn add its operation first.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    let done!: () => void;
    this.flushing = new Promise<void>((r) => (done = r));
    try {
      const results = await this.store.write(batch.map((p) => p.op));
      this.stats.batches++;
      this.stats.ops += batch.length;
      for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
    } catch (err) {
      // The whole transaction rolled back: nothing of this batch is durable, so every caller hears so.
      for (const p of batch) p.reject(err);
    } finally {
      this.flushing = undefined;
      done();
      if (this.queue.length) this.schedule();
    }
  }
}
