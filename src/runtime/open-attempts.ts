/**
 * The step attempts of one run in flight, by seq (kept by the execution while something observes step
 * events, for run:released and Engine.inFlight). A run nearly always runs one step at a time, so the
 * first sits in a slot and a Map exists only while steps run in parallel: a Map per run in flight cost
 * the engine's thread measurably more (its allocation and the garbage collector's work on it).
 */
export class OpenAttempts<T> {
  private seq = -1;
  private value: T | undefined;
  private more: Map<number, T> | undefined;

  get(seq: number): T | undefined {
    return seq === this.seq ? this.value : this.more?.get(seq);
  }

  set(seq: number, value: T): void {
    if (this.seq === seq) {
      this.value = value;
    } else if (this.seq === -1 && !this.more?.has(seq)) {
      this.seq = seq;
      this.value = value;
    } else {
      (this.more ??= new Map()).set(seq, value);
    }
  }

  delete(seq: number): void {
    if (seq === this.seq) {
      this.seq = -1;
      this.value = undefined;
    } else this.more?.delete(seq);
  }

  values(): T[] {
    const all = this.seq === -1 ? [] : [this.value as T];
    if (this.more) all.push(...this.more.values());
    return all;
  }
}
