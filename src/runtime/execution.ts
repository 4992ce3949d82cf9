import { hashString, seededRandom, type TimerHandle } from "../core/clock.js";
import { DirigentError, isDirigentError, type NondeterminismError, toErrorInfo } from "../core/errors.js";
import { encodePayload } from "../core/payload.js";
import { checkNoLeftovers, matchRecorded } from "../core/replay.js";
import { type RetryPolicy, resolveRetryPolicy } from "../core/retry.js";
import type { EntryKind, ErrorInfo, JournalEntry, RetryRecord } from "../core/types.js";
import type { WriteOp, WriteResult } from "../store/store.js";
import { Abandoned, isAbandoned } from "./abandon.js";
import { DurableContext } from "./context-impl.js";
import { waitingEntry } from "./entries.js";
import type { ReleaseCause, RunClaim } from "./events.js";
import type { ExecutionHost } from "./host.js";
import { OpenAttempts } from "./open-attempts.js";
import { runCompensations, type UndoRecord } from "./saga.js";
import type { WorkflowDefinition } from "./workflow.js";

/** A durable wait the workflow code is blocked on: resolved by time, a signal, or a child finishing. */
export interface Wait {
  seq: number;
  kind: "sleep" | "retry" | "signal" | "child" | "task";
  name: string;
  wakeAt?: number;
  childRunId?: string;
  /** For a child wait reopened by a retry of the run: its retry records, kept when the outcome is recorded. */
  retries?: RetryRecord[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type State = "active" | "suspended" | "finishing" | "done" | "lost";

/**
 * One run being executed by this node: the workflow function's live promise chain plus the bookkeeping
 * that makes it durable. States: active (holds the lease, code may run) → suspended (lease released,
 * every ctx call blocked on a durable wait; kept in the hot cache so a resume needs no replay) →
 * active again on the next claim, and finally done. "lost" means another owner, a terminate, or a
 * database failure took it away: it stops writing at once.
 */
export class RunExecution {
  readonly ctx: DurableContext;
  state: State = "active";
  /** Recorded entries not yet asked for again by the code (replay frontier). */
  readonly journal = new Map<number, JournalEntry>();
  /** Recorded compensation entries, by their seq. */
  readonly undoJournal = new Map<number, JournalEntry>();
  readonly waits = new Map<number, Wait>();
  readonly undos: UndoRecord[] = [];
  nextSeq = 0;
  /** Steps executing or committing: while > 0 the run is busy and does not suspend. */
  inflight = 0;
  /**
   * Store round trips that decide whether the code continues or waits: wait resolutions, and the writes
   * that open a signal, task or child wait (see writeOpeningWait). While > 0 the run does not suspend.
   */
  resolving = 0;
  /** Set once user code must stop (cancel, failure, timeout): every further ctx call throws Abandoned. */
  codeAbandoned = false;
  /** A cancel request seen on a cold resume: honoured when replay reaches the live frontier. */
  cancelPending = false;
  /** A nondeterminism error, kept here because user code could catch it and carry on. */
  fatal: NondeterminismError | undefined;
  readonly random: () => number;
  /** Retry policy of steps that set none: the workflow's own default over the engine's. */
  readonly stepDefaults: RetryPolicy;
  /** Aborts step attempts of user code (cancel); `lostController` aborts everything. */
  readonly codeController = new AbortController();
  readonly lostController = new AbortController();
  lastUsedAt = 0;
  /**
   * When this node's lease on the run was last confirmed, on the host's monotonic clock: when the claim
   * or the last successful renewal covering it was sent (the database's expiry counts from then).
   */
  leaseFrom: number;
  /** Set when known: finishing this run wakes its parent, which this node may hold in its cache. */
  parentRunId: string | undefined;
  private idleCheckScheduled = false;
  private deadlineTimer: TimerHandle | undefined;
  private inflightWaiters: (() => void)[] = [];
  private ending = false;

  /** When the run was created (engine clock), for the duration its run:finished event reports. */
  createdAt: number | undefined;
  /** The claim this execution runs under (set by the engine with every claim). */
  claim!: RunClaim;
  /** Step attempts in flight, recorded while something listens to step events (step-runner.ts). */
  readonly attempts = new OpenAttempts();

  constructor(
    readonly host: ExecutionHost,
    readonly runId: string,
    readonly def: WorkflowDefinition,
    public fence: number,
    readonly deadlineAt: number | undefined,
    journal: JournalEntry[],
  ) {
    for (const e of journal) (e.kind === "undo" ? this.undoJournal : this.journal).set(e.seq, e);
    this.random = seededRandom(hashString(runId));
    this.stepDefaults = resolveRetryPolicy(def.options.retry, host.defaultRetry);
    this.ctx = new DurableContext(this);
    this.leaseFrom = host.monotonicNow();
  }

  get now(): number {
    return this.host.clock.now();
  }

  /** Time since the run was created, by the engine's clock (undefined if its creation is unknown). */
  get ageMs(): number | undefined {
    return this.createdAt === undefined ? undefined : this.now - this.createdAt;
  }

  /** Start (or replay from the start) the workflow function. */
  begin(input: unknown): void {
    this.armDeadline();
    Promise.resolve()
      .then(() => this.def.fn(this.ctx, input))
      .then(
        (output) => this.onReturn(output),
        (error) => this.onThrow(error),
      );
  }

  /** Resume a suspended hot execution after this node claimed the run again with `fence`. */
  resume(fence: number, cancelRequested: boolean): void {
    this.fence = fence;
    this.state = "active";
    if (cancelRequested && !this.ending) {
      this.cancel();
      return;
    }
    if (!this.ending) this.armDeadline();
    if (this.state !== "active") return;
    for (const wait of [...this.waits.values()]) void this.tryResolve(wait);
    this.scheduleIdleCheck();
  }

  // ---- journal and writes ------------------------------------------------------------------------

  /**
   * Take the next seq for a ctx call and check it against the journal (the replay rule). Returns the
   * recorded entry, if any.
   */
  allocate(kind: EntryKind, name: string): { seq: number; recorded: JournalEntry | undefined } {
    if (this.state === "lost" || this.codeAbandoned || this.fatal) throw new Abandoned();
    if (this.state === "suspended") {
      // The code awaited something other than a ctx call and came back while we slept: the cached
      // instance can no longer be trusted, so drop it; the next resume replays from the journal.
      this.lose(
        "workflow code continued while suspended (it awaited something other than ctx)",
        "stale-code",
      );
      throw new Abandoned();
    }
    const seq = this.nextSeq++;
    let recorded: JournalEntry | undefined;
    try {
      recorded = matchRecorded({ seq, kind, name }, this.journal.get(seq));
    } catch (err) {
      this.fatal = err as NondeterminismError;
      this.abandonCode();
      void this.fail(this.fatal, false);
      throw new Abandoned();
    }
    if (recorded) this.journal.delete(seq);
    else if (this.cancelPending) {
      this.cancel();
      throw new Abandoned();
    }
    return { seq, recorded };
  }

  /** Submit a write on behalf of this run; a refused write (stale fence, finished run) loses the run. */
  async write(op: WriteOp): Promise<WriteResult> {
    let result: WriteResult;
    try {
      result = await this.host.batcher.submit(op);
    } catch (err) {
      this.lose(`database write failed: ${(err as Error).message}`, "write-failed");
      throw new Abandoned();
    }
    if (!result.ok && result.code === "STALE_FENCE" && "fence" in op && op.fence < this.fence) {
      // Written under the fence this execution held before it adopted the next one (see adoptFence):
      // the same single owner continues, so the write goes again under the current fence.
      return this.write({ ...op, fence: this.fence } as WriteOp);
    }
    if (!result.ok) {
      this.lose(`write refused: ${result.code}`, "write-refused");
      throw new Abandoned();
    }
    return result;
  }

  /**
   * Take the fence of a claim this node made of its own still-running execution (its lease had run out
   * but nobody else claimed in between). Writes already submitted under the old fence are re-submitted.
   */
  adoptFence(fence: number): void {
    this.fence = fence;
  }

  /**
   * A write the code awaits on its way into a durable wait (consume an arrived signal or record the
   * wait, schedule a task, start a child), counted as busy until it returns. Why: while it is out the
   * code is neither running nor blocked on a wait of its own, but with concurrent branches (DSL
   * parallel/forEach, Promise.all) other waits are open, so maybeSuspend would see "nothing in flight,
   * only waits" and suspend. If the write then lets the code go on at once (the signal had arrived),
   * its next ctx call finds the execution suspended and the run is lost (STALE_FENCE).
   */
  async writeOpeningWait(op: WriteOp): Promise<WriteResult> {
    this.resolving++;
    try {
      return await this.write(op);
    } finally {
      this.resolving--;
      // Runs after the code has gone on (a macrotask): it is then at its next ctx call or in its wait.
      this.scheduleIdleCheck();
    }
  }

  /** Submit a write without waiting for it (ordering still holds: later writes commit after it). */
  writeLater(op: WriteOp): void {
    this.write(op).catch(() => {});
  }

  encode(value: unknown, what: string): string | null {
    return encodePayload(value, this.host.maxPayloadBytes, what);
  }

  // ---- waits ---------------------------------------------------------------------------------------

  /** Block the code on a durable wait; resolved by tryResolve on this or a later resume. */
  addWait(spec: Omit<Wait, "resolve" | "reject">): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const wait: Wait = { ...spec, resolve, reject };
      this.waits.set(spec.seq, wait);
      if (this.cancelPending) {
        this.cancel();
        return;
      }
      void this.tryResolve(wait);
    });
  }

  /** Check one wait against time and the store; resolve it if its condition holds. */
  async tryResolve(wait: Wait): Promise<void> {
    if (this.state !== "active") return;
    this.resolving++;
    try {
      const now = this.now;
      if (wait.kind === "retry") {
        if (now >= wait.wakeAt!) this.settleWait(wait, undefined);
      } else if (wait.kind === "sleep") {
        if (now >= wait.wakeAt!) {
          await this.write({
            type: "putEntry",
            runId: this.runId,
            fence: this.fence,
            entry: { ...waitingEntry(wait.seq, "sleep", wait.name, now, undefined), status: "completed" },
          });
          this.settleWait(wait, undefined);
        }
      } else if (wait.kind === "signal") {
        await this.ctx.resolveSignal(wait, now);
      } else if (wait.kind === "child") {
        await this.ctx.resolveChild(wait, now);
      } else if (wait.kind === "task") {
        await this.ctx.resolveTask(wait);
      }
    } catch (err) {
      if (!isAbandoned(err))
        this.host.events.emit("engine:error", { error: err, context: `wait ${wait.name}` });
    } finally {
      this.resolving--;
      this.scheduleIdleCheck();
    }
  }

  settleWait(wait: Wait, value: unknown, error?: unknown): void {
    if (this.waits.get(wait.seq) !== wait) return;
    this.waits.delete(wait.seq);
    if (error !== undefined) wait.reject(error);
    else wait.resolve(value);
  }

  // ---- busy / idle ---------------------------------------------------------------------------------

  stepStarted(): void {
    this.inflight++;
  }

  stepEnded(): void {
    this.inflight--;
    if (this.inflight === 0) {
      for (const fn of this.inflightWaiters.splice(0)) fn();
    }
    this.scheduleIdleCheck();
  }

  private untilNoStepInFlight(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.inflightWaiters.push(r));
  }

  /**
   * After the current turn of the event loop, if nothing is executing and the code is blocked only on
   * durable waits, release the lease and suspend until the earliest wake-up.
   */
  scheduleIdleCheck(): void {
    if (this.idleCheckScheduled) return;
    this.idleCheckScheduled = true;
    setImmediate(() => {
      this.idleCheckScheduled = false;
      this.maybeSuspend();
    });
  }

  private maybeSuspend(): void {
    if (this.state !== "active" || this.inflight > 0 || this.resolving > 0 || this.waits.size === 0) {
      return;
    }
    let wakeAt: number | undefined = this.deadlineAt;
    for (const w of this.waits.values()) {
      if (w.wakeAt !== undefined && (wakeAt === undefined || w.wakeAt < wakeAt)) wakeAt = w.wakeAt;
    }
    this.state = "suspended";
    this.clearDeadline();
    const fence = this.fence;
    this.write({ type: "suspendRun", runId: this.runId, fence, wakeAt, now: this.now }).then(
      () => {
        if (this.state === "suspended" && this.fence === fence) this.host.onSuspended(this, wakeAt);
      },
      () => {},
    );
  }

  // ---- endings -------------------------------------------------------------------------------------

  private onReturn(output: unknown): void {
    if (this.state === "lost" || this.ending) return;
    if (this.fatal) return; // already failing
    if (this.codeAbandoned) return; // a cancel or failure path owns the ending
    try {
      checkNoLeftovers(this.journal.values());
    } catch (err) {
      this.fatal = err as NondeterminismError;
      void this.fail(this.fatal, false);
      return;
    }
    let outputJson: string | null;
    try {
      outputJson = this.encode(output, "workflow output");
    } catch (err) {
      void this.fail(err, true);
      return;
    }
    void this.finish("completed", outputJson);
  }

  private onThrow(error: unknown): void {
    if (this.state === "lost" || this.ending) return;
    if (this.fatal) return;
    if (isAbandoned(error)) return;
    void this.fail(error, true);
  }

  /** Fail the run: stop the code, let in-flight steps land, compensate (unless told not to), record. */
  async fail(error: unknown, compensate: boolean): Promise<void> {
    if (this.ending || this.state === "lost") return;
    this.ending = true;
    this.abandonCode();
    const info = toErrorInfo(error, { withStack: !isDirigentError(error) });
    await this.untilNoStepInFlight();
    if (compensate) {
      const ok = await this.compensate();
      if (!ok) return;
    }
    await this.finish("failed", null, info);
  }

  /** Cooperative cancel: stop the code, compensate completed steps in reverse, end as cancelled. */
  cancel(): void {
    if (this.ending || this.state === "lost" || this.state === "done") return;
    this.ending = true;
    this.cancelPending = false;
    this.abandonCode();
    void (async () => {
      await this.untilNoStepInFlight();
      if (!(await this.compensate())) return;
      const error = {
        name: "CancelledError",
        message: "run was cancelled",
        code: "RUN_CANCELLED",
        terminal: true,
      };
      await this.finish("cancelled", null, error);
    })();
  }

  private async compensate(): Promise<boolean> {
    try {
      await runCompensations(this);
      return true;
    } catch (err) {
      if (!isAbandoned(err)) this.host.events.emit("engine:error", { error: err, context: "compensation" });
      return false;
    }
  }

  private async finish(
    status: "completed" | "failed" | "cancelled",
    outputJson: string | null,
    error?: ErrorInfo,
  ) {
    this.ending = true;
    this.state = "finishing";
    this.clearDeadline();
    try {
      await this.write({
        type: "completeRun",
        runId: this.runId,
        fence: this.fence,
        status,
        outputJson,
        error,
        now: this.now,
      });
    } catch {
      return; // lost: another owner or a terminate decided the ending
    }
    this.state = "done";
    this.host.onFinished(this, status, error);
  }

  /** Make user code stop: pending waits reject with Abandoned, running attempts see their signal abort. */
  abandonCode(): void {
    if (this.codeAbandoned) return;
    this.codeAbandoned = true;
    this.codeController.abort(new DirigentError("RUN_CANCELLED", "run is ending"));
    for (const wait of [...this.waits.values()]) this.settleWait(wait, undefined, new Abandoned());
  }

  /**
   * Stop everything without writing: someone else owns the run now, it was terminated, or this node can
   * no longer vouch for its lease. `error` is what running steps' signals abort with.
   */
  lose(reason: string, cause: ReleaseCause, error = new DirigentError("STALE_FENCE", reason)): void {
    if (this.state === "lost" || this.state === "done") return;
    // A suspended execution's claim already ended (run:suspended): only a held one is released.
    const held = this.state === "active" || this.state === "finishing";
    this.state = "lost";
    this.clearDeadline();
    this.codeAbandoned = true;
    this.lostController.abort(error);
    this.codeController.abort(error);
    for (const wait of [...this.waits.values()]) this.settleWait(wait, undefined, new Abandoned());
    for (const fn of this.inflightWaiters.splice(0)) fn();
    this.host.onLost(this, reason, cause, error, held);
  }

  // ---- run deadline ----------------------------------------------------------------------------------

  private armDeadline(): void {
    if (this.deadlineAt === undefined || this.deadlineTimer) return;
    const ms = this.deadlineAt - this.now;
    if (ms <= 0) {
      this.timeOut();
      return;
    }
    this.deadlineTimer = this.host.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      this.timeOut();
    }, ms);
  }

  private clearDeadline(): void {
    if (this.deadlineTimer) this.host.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }

  private timeOut(): void {
    if (this.state !== "active" || this.ending) return;
    void this.fail(new DirigentError("RUN_TIMEOUT", `run exceeded its deadline`), true);
  }
}

export { Abandoned };
