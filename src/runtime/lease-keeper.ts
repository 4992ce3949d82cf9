import type { Clock, TimerHandle } from "../core/clock.js";
import { DirigentError } from "../core/errors.js";
import type { Store } from "../store/store.js";
import type { EngineEvents, LeaseLossReason } from "./events.js";
import type { RunExecution } from "./execution.js";

/**
 * Part of the lease after which a node that could not confirm a run's lease stops executing it. The
 * rest (a fifth) is the margin for the nodes' clocks to disagree and for running steps to see their
 * abort signal before the lease runs out in the database and another node may claim the run.
 */
const SELF_FENCE_SHARE = 0.8;

export interface LeaseKeeperOptions {
  nodeId: string;
  clock: Clock;
  store: Store;
  events: EngineEvents;
  leaseMs: number;
  /** Executions holding a lease on this node: the runs it knows it executes (active or finishing). */
  held(): RunExecution[];
  /** False once the engine stops executing: renewals and their outcomes are then ignored. */
  running(): boolean;
}

/**
 * Keeps this node's run leases alive and stops the runs whose lease it can no longer vouch for.
 *
 * Every `leaseMs / 3` it renews the leases of the runs it executes. A run the store did not renew (it
 * was taken over, terminated, or its lease ran out) is lost at once. A run whose lease no renewal has
 * confirmed for `SELF_FENCE_SHARE × leaseMs` (by the node's monotonic clock, counted from when the
 * claim or the last successful renewal was sent, since that is when the database's expiry was set) is
 * lost too, before another node may claim it: the database may be unreachable, and then the node
 * cannot know. Losing a run aborts its running steps' signal and drops it from memory; the run is not
 * failed: it is claimed again (by any node, this one too) once its lease ran out, and replays.
 */
export class LeaseKeeper {
  private readonly fenceAfterMs: number;
  private timer: TimerHandle | undefined;
  /** When the renewal now in flight was sent (one at a time, unless it hangs for a whole lease). */
  private inflightSince: number | undefined;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.fenceAfterMs = Math.floor(o.leaseMs * SELF_FENCE_SHARE);
  }

  /** The monotonic time used to measure leases (the clock's own, or its `now()`). */
  monotonicNow(): number {
    return this.o.clock.monotonic?.() ?? this.o.clock.now();
  }

  start(): void {
    if (this.timer === undefined) this.schedule();
  }

  stop(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.o.running()) return;
    this.fenceOverdue();
    const now = this.monotonicNow();
    // A renewal that hangs (a connection cut without a reset) must not stop the next ones for good.
    if (this.inflightSince === undefined || now - this.inflightSince >= this.o.leaseMs) void this.renew();
    this.schedule();
  }

  /** Next tick: the next renewal, or earlier, when the first unconfirmed lease must be given up. */
  private schedule(): void {
    const now = this.monotonicNow();
    let due = now + Math.floor(this.o.leaseMs / 3);
    for (const exec of this.o.held()) {
      if (exec.state === "active") due = Math.min(due, exec.leaseFrom + this.fenceAfterMs);
    }
    this.timer = this.o.clock.setTimeout(() => this.tick(), Math.max(0, due - now));
  }

  /** Lose every run whose lease has gone unconfirmed too long. */
  private fenceOverdue(): void {
    const now = this.monotonicNow();
    for (const exec of this.o.held()) {
      if (exec.state === "active" && now - exec.leaseFrom >= this.fenceAfterMs) {
        this.lose(exec, "renewal-overdue");
      }
    }
  }

  private async renew(): Promise<void> {
    const sentAt = this.monotonicNow();
    this.inflightSince = sentAt;
    // Only the runs this node knows it executes: a claim whose outcome it never learned must run out.
    const sent = this.o.held().map((exec) => ({ exec, fence: exec.fence }));
    let result: Awaited<ReturnType<Store["renewLeases"]>>;
    try {
      result = await this.o.store.renewLeases({
        nodeId: this.o.nodeId,
        leaseMs: this.o.leaseMs,
        now: this.o.clock.now(),
        runs: sent.map(({ exec, fence }) => ({ runId: exec.runId, fence })),
      });
    } catch (error) {
      if (this.o.running()) this.o.events.emit("engine:error", { error, context: "lease renewal" });
      return;
    } finally {
      if (this.inflightSince === sentAt) this.inflightSince = undefined;
    }
    if (!this.o.running()) return;
    const renewed = new Set(result.renewed);
    for (const { exec, fence } of sent) {
      // Claimed again meanwhile (the claim set a newer lease), or ended or lost already: not ours to judge.
      if (exec.fence !== fence || (exec.state !== "active" && exec.state !== "finishing")) continue;
      if (renewed.has(exec.runId)) exec.leaseFrom = Math.max(exec.leaseFrom, sentAt);
      // A run that is finishing runs no more code: its last write is refused if the run is no longer
      // ours, and the run is dropped then.
      else if (exec.state === "active") this.lose(exec, "not-renewed");
    }
    if (result.cancelRequested.length === 0) return;
    const held = new Map(this.o.held().map((exec) => [exec.runId, exec]));
    for (const runId of result.cancelRequested) {
      const exec = held.get(runId);
      if (exec && exec.state === "active") exec.cancel();
    }
  }

  private lose(exec: RunExecution, reason: LeaseLossReason): void {
    const sinceRenewalMs = Math.round(this.monotonicNow() - exec.leaseFrom);
    const message =
      reason === "not-renewed"
        ? `lease of run ${exec.runId} (fence ${exec.fence}) could not be renewed: another node took the run over, it was terminated, or the lease ran out`
        : `no renewal confirmed the lease of run ${exec.runId} for ${sinceRenewalMs} ms (lease ${this.o.leaseMs} ms): stopping it before another node may take it over`;
    this.o.events.emit("run:lease-lost", {
      runId: exec.runId,
      workflow: exec.def.name,
      fence: exec.fence,
      reason,
      sinceRenewalMs,
    });
    exec.lose(
      message,
      "lease-lost",
      new DirigentError("STALE_FENCE", message, {
        runId: exec.runId,
        fence: exec.fence,
        reason,
        sinceRenewalMs,
      }),
    );
  }
}
