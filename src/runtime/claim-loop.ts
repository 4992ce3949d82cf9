import type { Clock } from "../core/clock.js";
import type { RunRecord } from "../core/types.js";
import type { Store } from "../store/store.js";
import type { WakeTimer } from "./wake-timer.js";

/** At most this many runs per claiming write. */
const MAX_CLAIM = 200;

export interface ClaimLoopOptions {
  nodeId: string;
  clock: Clock;
  store: Store;
  leaseMs: number;
  wakeTimer: WakeTimer;
  /** False once the engine stops (or before it starts): no claims. */
  canExecute(): boolean;
  /** Runs this node could take on now (capacity left). */
  freeSlots(): number;
  /** The clock leases are measured with (see Clock.monotonic). */
  monotonicNow(): number;
  /** Execute a run just claimed; `claimedAt` is monotonicNow() when the claim was sent. */
  execute(row: RunRecord, claimedAt: number): void;
  onError(error: unknown): void;
}

/**
 * Claims runnable runs for the engine: one claim pass at a time (a kick during a pass makes it go
 * round again), as many runs as there is capacity for, and then the wake timer set to the next due
 * wake-up. `backlog` says runs may be waiting for capacity here, so a run's end should look again.
 */
export class ClaimLoop {
  /** Runs may be waiting for capacity here: set when a start could not claim or a pass was full. */
  backlog = false;
  private claiming = false;
  private claimAgain = false;
  private kickScheduled = false;

  constructor(private readonly o: ClaimLoopOptions) {}

  /** Look for runnable runs soon (coalesced: many kicks in one turn make one claim pass). */
  kick(): void {
    if (this.kickScheduled || !this.o.canExecute()) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      void this.pass();
    });
  }

  async pass(): Promise<void> {
    const o = this.o;
    if (!o.canExecute()) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = true;
    try {
      do {
        this.claimAgain = false;
        const free = o.freeSlots();
        if (free <= 0) {
          this.backlog = true;
          break;
        }
        const limit = Math.min(free, MAX_CLAIM);
        const claimedAt = o.monotonicNow();
        const rows = await o.store.claimRuns({
          nodeId: o.nodeId,
          limit,
          leaseMs: o.leaseMs,
          now: o.clock.now(),
        });
        for (const row of rows) o.execute(row, claimedAt);
        if (rows.length === limit) this.claimAgain = true;
        this.backlog = rows.length === limit;
      } while (this.claimAgain && o.canExecute());
      const next = await o.store.nextWakeAt();
      o.wakeTimer.afterClaim(next);
    } catch (error) {
      o.onError(error);
      o.wakeTimer.afterClaim(undefined);
    } finally {
      this.claiming = false;
    }
  }
}
