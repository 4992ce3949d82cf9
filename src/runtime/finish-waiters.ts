import type { Clock, TimerHandle } from "../core/clock.js";
import { DirigentError } from "../core/errors.js";
import { isTerminalStatus, type RunRecord } from "../core/types.js";
import type { Store } from "../store/store.js";

type Waiter = (event: "finished" | "stopped") => void;

/**
 * Callers awaiting a run's final status. A run finished on this node wakes its waiters at once; one
 * finished elsewhere is noticed by polling the store every `pollIntervalMs`.
 */
export class FinishWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly pollIntervalMs: number,
  ) {}

  /** The run finished on this node. */
  finished(runId: string): void {
    const set = this.waiters.get(runId);
    if (set) for (const fn of [...set]) fn("finished");
  }

  /** How many callers are waiting now (all runs). */
  get size(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /** The engine stopped: every waiter fails with ENGINE_STOPPED. */
  stopAll(): void {
    for (const set of [...this.waiters.values()]) for (const fn of [...set]) fn("stopped");
  }

  /**
   * Resolve with the run once it is final; RUN_NOT_FOUND, RESULT_TIMEOUT or ENGINE_STOPPED otherwise.
   * Aborting `signal` rejects with its reason and drops the wait at once (a caller that went away).
   */
  async wait(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<RunRecord> {
    signal?.throwIfAborted();
    const run = await this.store.getRun(runId);
    if (!run) throw new DirigentError("RUN_NOT_FOUND", `run "${runId}" not found`, { runId });
    if (isTerminalStatus(run.status)) return run;
    signal?.throwIfAborted();
    return new Promise<RunRecord>((resolve, reject) => {
      let set = this.waiters.get(runId);
      if (!set) this.waiters.set(runId, (set = new Set()));
      const waiters = set;
      let settled = false;
      let poll: TimerHandle | undefined;
      // The engine's own timers do not keep the process alive; a caller awaiting a result does.
      const keepAlive = setInterval(() => {}, 1 << 30);
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        waiters.delete(onEvent);
        if (waiters.size === 0 && this.waiters.get(runId) === waiters) this.waiters.delete(runId);
        this.clock.clearTimeout(timeout);
        if (poll) this.clock.clearTimeout(poll);
        clearInterval(keepAlive);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => finish(() => reject(signal?.reason));
      const onEvent: Waiter = (event) => {
        if (event === "stopped") {
          finish(() =>
            reject(new DirigentError("ENGINE_STOPPED", `the engine stopped before run "${runId}" finished`)),
          );
          return;
        }
        this.store.getRun(runId).then(
          (r) => finish(() => resolve(r!)),
          (e) => finish(() => reject(e)),
        );
      };
      waiters.add(onEvent);
      signal?.addEventListener("abort", onAbort, { once: true });
      const timeout = this.clock.setTimeout(
        () =>
          finish(() =>
            reject(
              new DirigentError("RESULT_TIMEOUT", `run "${runId}" did not finish within ${timeoutMs} ms`),
            ),
          ),
        timeoutMs,
      );
      // Another node may finish the run: look again now and then.
      const repoll = () => {
        poll = this.clock.setTimeout(() => {
          this.store.getRun(runId).then(
            (r) => {
              if (r && isTerminalStatus(r.status)) finish(() => resolve(r));
              else if (!settled) repoll();
            },
            () => repoll(),
          );
        }, this.pollIntervalMs);
      };
      repoll();
    });
  }
}
