/**
 * Deterministic concurrency for the interpreter (parallel branches, forEach items).
 *
 * Why: the journal gives each ctx call the next sequence number in call order, and replay checks that
 * the code asks for the same call at the same number. Two branches that each make several calls would
 * interleave in the order their calls happen to finish, which live and replay need not share. So
 * branches never continue on their own: each awaits its ctx calls through its Fiber, and the group
 * lets blocked branches continue one at a time, in an order that is journaled (a small step holding
 * the indexes of the branches whose calls had settled) when more than one branch is blocked. Replay
 * reads that order back, so every call lands on the same sequence number. Only one branch of the whole
 * run executes at any moment; the calls themselves (HTTP requests, timers, tasks) still run at once.
 *
 * Nothing here depends on timing except the content of the journaled order: whether a group waits on
 * its parent, and whether it records an order, depends only on how many branches are blocked.
 */

/** How a branch of interpreter code awaits the promise of a ctx call. */
export interface Fiber {
  wait<T>(promise: Promise<T>): Promise<T>;
}

/** The top level: awaits directly. */
export const ROOT_FIBER: Fiber = { wait: (p) => p };

export interface GroupOptions<R> {
  /** Journal name of the order records. */
  name: string;
  /** Branches or items. */
  count: number;
  /** Running at once at most (items start in index order as others finish). */
  limit: number;
  /** "all": every branch must succeed; "first": the first to succeed (in journaled order) wins. */
  join: "all" | "first";
  body(index: number, fiber: Fiber): Promise<R>;
  /** Journal the order in which settled branches continue; returns the recorded order on replay. */
  record(name: string, ready: number[]): Promise<number[]>;
  /** Errors that end the group at once whatever the join (run stopping, succeed). */
  propagate(error: unknown): boolean;
}

export type GroupResult<R> = { join: "all"; results: R[] } | { join: "first"; index: number; result: R };

interface Slot<R> {
  index: number;
  state: "running" | "blocked" | "done";
  settled: boolean;
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };
  settledPromise?: Promise<void>;
  release?: () => void;
  onYield?: () => void;
  result?: R;
  failed: boolean;
  error?: unknown;
}

/**
 * Run `count` bodies as one group under `parent`.
 *
 * @example
 * const { results } = await runGroup(ROOT_FIBER, { name: "fan-out:next", count: 3, limit: 3, join: "all",
 *   body: (i, fiber) => fiber.wait(ctx.http(`call-${i}`, { url })), record, propagate: () => false });
 */
export async function runGroup<R>(parent: Fiber, o: GroupOptions<R>): Promise<GroupResult<R>> {
  const slots: Slot<R>[] = [];
  const results: R[] = new Array(o.count);
  let next = 0;
  let firstError: { error: unknown } | undefined;

  const yieldFrom = (slot: Slot<R>) => {
    const fn = slot.onYield;
    slot.onYield = undefined;
    fn?.();
  };
  // Let a slot run until it blocks on its next call or finishes.
  const advance = (slot: Slot<R>, action: () => void) =>
    new Promise<void>((resolve) => {
      slot.onYield = resolve;
      slot.state = "running";
      action();
    });
  const fiberOf = (slot: Slot<R>): Fiber => ({
    wait<T>(promise: Promise<T>): Promise<T> {
      slot.settled = false;
      slot.outcome = undefined;
      slot.settledPromise = promise.then(
        (value) => {
          slot.settled = true;
          slot.outcome = { ok: true, value };
        },
        (error) => {
          slot.settled = true;
          slot.outcome = { ok: false, error };
        },
      );
      return new Promise<T>((resolve, reject) => {
        slot.release = () => {
          const out = slot.outcome!;
          if (out.ok) resolve(out.value as T);
          else reject(out.error);
        };
        slot.state = "blocked";
        yieldFrom(slot);
      });
    },
  });
  const start = async () => {
    const slot: Slot<R> = { index: next++, state: "running", settled: false, failed: false };
    slots.push(slot);
    await advance(slot, () => {
      o.body(slot.index, fiberOf(slot)).then(
        (r) => {
          slot.result = r;
          slot.state = "done";
          yieldFrom(slot);
        },
        (e) => {
          slot.failed = true;
          slot.error = e;
          slot.state = "done";
          yieldFrom(slot);
        },
      );
    });
    return settle(slot);
  };
  /** After a slot ran: a finished one may decide the group. Returns the group's result if decided. */
  const settle = (slot: Slot<R>): GroupResult<R> | undefined => {
    if (slot.state !== "done") return undefined;
    if (slot.failed) {
      if (o.propagate(slot.error) || o.join === "all") throw slot.error;
      firstError ??= { error: slot.error };
      return undefined;
    }
    if (o.join === "first") return { join: "first", index: slot.index, result: slot.result as R };
    results[slot.index] = slot.result as R;
    return undefined;
  };
  const running = () => slots.filter((s) => s.state !== "done").length;
  const fill = async (): Promise<GroupResult<R> | undefined> => {
    while (next < o.count && running() < o.limit) {
      const decided = await start();
      if (decided) return decided;
    }
    return undefined;
  };

  let decided = await fill();
  while (!decided) {
    const blocked = slots.filter((s) => s.state === "blocked");
    if (blocked.length === 0) break;
    let order: number[];
    if (blocked.length === 1) {
      await parent.wait(blocked[0].settledPromise!);
      order = [blocked[0].index];
    } else {
      await parent.wait(Promise.race(blocked.map((s) => s.settledPromise!)));
      order = await o.record(
        o.name,
        blocked.filter((s) => s.settled).map((s) => s.index),
      );
    }
    for (const index of order) {
      const slot = slots[index];
      if (slot?.state !== "blocked") continue;
      // Live, every slot in the order had settled; on replay its recorded outcome settles it at once.
      if (!slot.settled) await slot.settledPromise;
      await advance(slot, () => slot.release!());
      decided = settle(slot) ?? (await fill());
      if (decided) break;
    }
  }
  if (decided) return decided;
  if (o.join === "first") throw firstError ? firstError.error : new Error("no branch");
  return { join: "all", results };
}
