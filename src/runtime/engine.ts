import { randomUUID } from "node:crypto";
import type { Clock } from "../core/clock.js";
import { DirigentError } from "../core/errors.js";
import { encodePayload, hasUnstorableCharacters } from "../core/payload.js";
import type { RetryPolicy } from "../core/retry.js";
import type { ErrorInfo, RunRecord, RunStatus } from "../core/types.js";
import type { Store, WriteResult } from "../store/store.js";
import { ClaimLoop } from "./claim-loop.js";
import { EngineEvents, type OutgoingCall, type ReleaseCause, type RunClaim } from "./events.js";
import { RunExecution } from "./execution.js";
import { FinishWaiters } from "./finish-waiters.js";
import { HeldRuns, type RunInFlight } from "./held-runs.js";
import type { ExecutionHost } from "./host.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { type EngineOptions, type ResolvedOptions, resolveEngineOptions } from "./options.js";
import { preciseNow } from "./precise-time.js";
import { throwIfRefused } from "./refusals.js";
import { WorkflowRegistry } from "./registry.js";
import { Schedules } from "./schedules.js";
import { settlesWithin } from "./settles-within.js";
import { checkStart, type StartOptions, type StartResult } from "./start-request.js";
import { TaskQueues } from "./task-queues.js";
import { WakeTimer } from "./wake-timer.js";
import type { WorkflowDefinition } from "./workflow.js";
import { WriteBatcher } from "./write-batcher.js";

export type { StartOptions, StartResult } from "./start-request.js";

/**
 * An engine instance: claims runnable runs from its store, executes them, and serves the operations
 * of the client API. No globals: several engines (even on one store) may live in one process.
 */
export class Engine implements ExecutionHost {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly store: Store;
  readonly batcher: WriteBatcher;
  readonly events = new EngineEvents();
  readonly registry = new WorkflowRegistry();
  readonly leaseMs: number;
  readonly maxPayloadBytes: number;
  readonly defaultRetry: RetryPolicy;
  /** Worker side of task queues: poll, heartbeat, complete, fail, limits. */
  readonly tasks: TaskQueues;
  /** Durable cron schedules. */
  readonly schedules: Schedules;
  private readonly options: ResolvedOptions;
  /** Executions holding a lease on this node, and suspended ones kept hot. */
  private readonly runs: HeldRuns;
  /** Claimed runs whose journal is still loading, and starts in progress that will claim. */
  private pending = 0;
  private readonly finishWaiters: FinishWaiters;
  private started = false;
  private stopping = false;
  private readonly wakeTimer: WakeTimer;
  private readonly claims: ClaimLoop;
  private readonly leases: LeaseKeeper;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(options: EngineOptions) {
    this.options = resolveEngineOptions(options);
    this.runs = new HeldRuns(this.options.maxCachedRuns);
    this.store = this.options.store;
    this.clock = this.options.clock;
    this.wakeTimer = new WakeTimer(
      this.clock,
      this.options.pollIntervalMs,
      () => void this.maintenance().then(() => this.claims.pass()),
      () => this.canExecute(),
    );
    this.nodeId = this.options.nodeId ?? `node-${randomUUID().slice(0, 8)}`;
    this.leaseMs = this.options.leaseMs;
    this.maxPayloadBytes = this.options.maxPayloadBytes;
    this.defaultRetry = this.options.defaultRetry;
    this.batcher = new WriteBatcher(this.store);
    for (const def of this.options.workflows) this.registry.add(def);
    this.tasks = new TaskQueues(this);
    this.finishWaiters = new FinishWaiters(this.store, this.clock, this.options.pollIntervalMs);
    this.schedules = new Schedules({
      store: this.store,
      batcher: this.batcher,
      clock: this.clock,
      hasWorkflow: (name) => this.registry.get(name) !== undefined,
      startRun: (workflow, input, runId) => this.startRun(workflow, input, { runId }),
      onError: (error, scheduleId) =>
        this.events.emit("engine:error", { error, context: `schedule ${scheduleId}` }),
    });
    this.claims = new ClaimLoop({
      nodeId: this.nodeId,
      clock: this.clock,
      store: this.store,
      leaseMs: this.leaseMs,
      wakeTimer: this.wakeTimer,
      canExecute: () => this.canExecute(),
      freeSlots: () => this.options.maxConcurrentRuns - this.runs.activeCount - this.pending,
      monotonicNow: () => this.monotonicNow(),
      execute: (row, claimedAt) => void this.resume(row, claimedAt),
      onError: (error) => this.events.emit("engine:error", { error, context: "claim" }),
    });
    this.leases = new LeaseKeeper({
      nodeId: this.nodeId,
      clock: this.clock,
      store: this.store,
      events: this.events,
      leaseMs: this.leaseMs,
      held: () => this.runs.holding(),
      running: () => this.canExecute(),
    });
  }

  register(...defs: WorkflowDefinition[]): this {
    for (const def of defs) this.registry.add(def);
    return this;
  }

  /** Apply migrations and begin claiming and executing runs. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.store.migrate();
    this.started = true;
    if (!this.options.execute) return;
    if (this.store.subscribeWakeups) this.unsubscribe = await this.store.subscribeWakeups(() => this.kick());
    this.leases.start();
    this.kick();
  }

  /**
   * Stop claiming; give in-flight runs up to `graceMs` to reach a wait or finish; release the leases of
   * the rest so another node (or the next start) continues them at once; flush pending writes. The
   * releases and the flush get `writeTimeoutMs` (default 5 s): with the database unreachable they never
   * finish, so stop returns anyway, reporting it on `engine:error`; those leases then run out by themselves.
   */
  async stop(options: { graceMs?: number; writeTimeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wakeTimer.cancel();
    this.leases.stop();
    const writeTimeoutMs = options.writeTimeoutMs ?? 5_000;
    await settlesWithin(this.unsubscribe?.() ?? Promise.resolve(), writeTimeoutMs);
    const deadline = Date.now() + (options.graceMs ?? 5_000);
    while (this.busyCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const releases: Promise<WriteResult>[] = [];
    for (const exec of this.runs.activeRuns()) {
      if (exec.state === "active") {
        releases.push(
          this.batcher.submit({
            type: "releaseRun",
            runId: exec.runId,
            fence: exec.fence,
            now: this.clock.now(),
          }),
        );
      }
      exec.lose("engine stopping", "engine-stopping");
    }
    const written = Promise.allSettled(releases).then(() => this.batcher.drain());
    if (!(await settlesWithin(written, writeTimeoutMs))) {
      const error = new Error(
        `engine stop: ${releases.length} lease release(s) and pending writes did not finish within ` +
          `${writeTimeoutMs} ms (database unreachable?); stopping anyway, the leases expire within ${this.leaseMs} ms`,
      );
      this.events.emit("engine:error", { error, context: "engine stop" });
    }
    for (const exec of this.runs.takeCached()) exec.lose("engine stopping", "engine-stopping");
    this.finishWaiters.stopAll();
  }

  private busyCount(): number {
    return this.pending + this.runs.holding().length;
  }

  // ---- client operations -------------------------------------------------------------------------

  async startRun(workflowName: string, input: unknown, opts: StartOptions = {}): Promise<StartResult> {
    this.assertUsable();
    const checked = checkStart(this.registry, workflowName, input, opts);
    const { def, runId } = checked;
    input = checked.input;
    const inputJson = encodePayload(input, this.maxPayloadBytes, "workflow input");
    const now = this.clock.now();
    const deadlineAt = def.options.runTimeoutMs ? now + def.options.runTimeoutMs : undefined;
    const claim = this.canExecute() && this.hasCapacity();
    const claimedAt = this.monotonicNow();
    if (claim) this.pending++;
    let result: WriteResult;
    try {
      result = await this.batcher.submit({
        type: "createRun",
        run: { runId, workflow: def.name, version: def.version, inputJson, deadlineAt, now },
        claim: claim ? { nodeId: this.nodeId, leaseMs: this.leaseMs } : undefined,
      });
    } finally {
      if (claim) this.pending--;
    }
    if (!result.ok) throw new DirigentError("INTERNAL", `start failed: ${result.code}`);
    if (!result.created) {
      const existing = result.run!;
      if (opts.onConflict === "fail") {
        throw new DirigentError("RUN_ALREADY_EXISTS", `run "${runId}" already exists`, {
          status: existing.status,
        });
      }
      return { runId, created: false, workflow: existing.workflow, version: existing.version };
    }
    this.events.emit("run:created", { runId, workflow: def.name });
    if (claim) this.launch(runId, def, input, deadlineAt, undefined, claimedAt);
    else {
      this.claims.backlog = true;
      this.kick();
    }
    return { runId, created: true, workflow: def.name, version: def.version };
  }

  async getRun(runId: string): Promise<RunRecord> {
    const run = await this.store.getRun(runId);
    if (!run) throw new DirigentError("RUN_NOT_FOUND", `run "${runId}" not found`, { runId });
    return run;
  }

  async signal(runId: string, name: string, payload?: unknown): Promise<{ signalId: number }> {
    this.assertUsable();
    if (typeof name !== "string" || name.length === 0 || name.length > 200 || hasUnstorableCharacters(name)) {
      throw new DirigentError(
        "INVALID_ARGUMENT",
        "signal name must be a non-empty string of at most 200 characters, without NUL or unpaired surrogates",
      );
    }
    const payloadJson = encodePayload(payload, this.maxPayloadBytes, "signal payload");
    const r = await this.batcher.submit({
      type: "deliverSignal",
      runId,
      name,
      payloadJson,
      now: this.clock.now(),
    });
    throwIfRefused(r, runId, "signal");
    this.kick();
    return { signalId: (r as { signalId: number }).signalId };
  }

  async cancel(runId: string): Promise<void> {
    this.assertUsable();
    const r = await this.batcher.submit({ type: "requestCancel", runId, now: this.clock.now() });
    throwIfRefused(r, runId, "cancel");
    const exec = this.runs.activeOf(runId);
    if (exec && exec.state === "active") exec.cancel();
    else this.kick();
  }

  async terminate(runId: string, reason = "terminated by request"): Promise<void> {
    this.assertUsable();
    const r = await this.batcher.submit({ type: "terminateRun", runId, reason, now: this.clock.now() });
    throwIfRefused(r, runId, "terminate");
    const exec = this.runs.hot(runId);
    // The claim it was executing under (if any) ends with the run: run:finished, not run:released.
    const held = exec?.state === "active" || exec?.state === "finishing";
    exec?.lose("terminated", "terminated");
    this.finishWaiters.finished(runId);
    const workflow = exec?.def.name ?? "";
    this.events.emit("run:finished", {
      runId,
      workflow,
      status: "terminated",
      durationMs: exec?.ageMs,
      claim: held ? exec.claim : undefined,
    });
    this.kick(); // a parent waiting on this run was woken
  }

  /**
   * Put a failed run back to work from its failed step: the failed step runs again in a new retry round
   * (its failed attempts stay in the history, attempt numbers go on), what followed it runs again, and
   * completed steps before it are kept. A failed child run it waits on is retried with it. Refused with
   * RUN_NOT_RETRYABLE unless the run (and each such child) failed and none of its compensations ran.
   */
  async retry(runId: string): Promise<void> {
    this.assertUsable();
    const r = await this.batcher.submit({ type: "retryRun", runId, now: this.clock.now() });
    if (!r.ok) {
      if (r.code === "RUN_NOT_FOUND")
        throw new DirigentError("RUN_NOT_FOUND", `run "${runId}" not found`, { runId });
      const child = r.runId;
      throw new DirigentError(
        "RUN_NOT_RETRYABLE",
        child === undefined
          ? `run "${runId}" can be retried only when it failed and did not compensate`
          : `run "${runId}" cannot be retried: it would wait again on child run "${child}", which ${
              r.status ? `was ${r.status}` : "compensated"
            } and cannot be retried`,
        child === undefined ? { runId } : { runId, childRunId: child, childStatus: r.status },
      );
    }
    const stale = this.runs.hot(runId);
    if (stale) this.runs.forget(stale);
    this.kick();
  }

  /**
   * Resolve when the run reaches a final status (or reject with RESULT_TIMEOUT after `timeoutMs`, or with
   * `signal`'s reason once it is aborted).
   */
  waitForFinish(runId: string, timeoutMs = 60_000, signal?: AbortSignal): Promise<RunRecord> {
    return this.finishWaiters.wait(runId, timeoutMs, signal);
  }

  private assertUsable(): void {
    if (this.stopping) throw new DirigentError("ENGINE_STOPPED", "the engine is stopping");
  }

  private canExecute(): boolean {
    return this.started && !this.stopping && this.options.execute;
  }

  // ---- runs executing here, for observers ---------------------------------------------------------

  /**
   * A run this node executes now: its claim and the step attempts in flight (attempts are recorded
   * while something listens to step events). Undefined when the run is not executing here.
   */
  inFlight(runId: string): RunInFlight | undefined {
    return this.runs.inFlight(runId);
  }

  /** Every run this node executes now (see inFlight). */
  runsInFlight(): RunInFlight[] {
    return this.runs.runsInFlight();
  }

  // ---- ExecutionHost -----------------------------------------------------------------------------

  get maxCachedRuns(): number {
    return this.options.maxCachedRuns;
  }

  random(): number {
    return this.options.random();
  }

  resolveWorkflow(name: string, version?: string): WorkflowDefinition | undefined {
    return this.registry.get(name, version) ?? (version ? this.registry.get(name) : undefined);
  }

  traceparent(call: OutgoingCall): string | undefined {
    const fn = this.options.traceparent;
    if (!fn) return undefined;
    try {
      return fn(call);
    } catch (error) {
      this.events.emit("engine:error", { error, context: "traceparent" });
      return undefined;
    }
  }

  notifyQueue(queue: string): void {
    this.tasks.notify(queue);
  }

  monotonicNow(): number {
    return this.leases.monotonicNow();
  }

  hasCapacity(): boolean {
    return this.canExecute() && this.runs.activeCount + this.pending < this.options.maxConcurrentRuns;
  }

  launch(
    runId: string,
    def: WorkflowDefinition,
    input: unknown,
    deadlineAt?: number,
    parentRunId?: string,
    claimedAt?: number,
  ): void {
    const exec = new RunExecution(this, runId, def, 1, deadlineAt, []);
    exec.createdAt = this.clock.now();
    if (claimedAt !== undefined) exec.leaseFrom = claimedAt;
    exec.parentRunId = parentRunId;
    exec.lastUsedAt = this.clock.now();
    this.runs.activate(exec);
    this.claimed(exec, {
      runId,
      workflow: def.name,
      fence: 1,
      replay: false,
      resumed: false,
      claimedAt: preciseNow(),
    });
    exec.begin(input);
  }

  onSuspended(exec: RunExecution, wakeAt: number | undefined): void {
    this.runs.suspended(exec, !this.stopping);
    this.events.emit("run:suspended", {
      runId: exec.runId,
      workflow: exec.def.name,
      wakeAt,
      claim: exec.claim,
    });
    if (wakeAt !== undefined) this.wakeTimer.wakeBy(wakeAt);
    this.kick();
  }

  onFinished(exec: RunExecution, status: RunStatus, error?: ErrorInfo): void {
    this.runs.forget(exec);
    this.finishWaiters.finished(exec.runId);
    const { runId, def, ageMs } = exec;
    this.events.emit("run:finished", {
      runId,
      workflow: def.name,
      status,
      error,
      durationMs: ageMs,
      claim: exec.claim,
    });
    // A claim pass costs a write transaction; look only when there may be something to claim: runs
    // left unclaimed for lack of capacity, or a parent this run's end just woke.
    if (this.claims.backlog || exec.parentRunId) this.kick();
  }

  onLost(exec: RunExecution, reason: string, cause: ReleaseCause, error: Error, held: boolean): void {
    this.runs.forget(exec);
    // A terminated run's claim ends with its run:finished (terminate emits it); a suspended one's
    // ended with its run:suspended.
    if (held && cause !== "terminated" && this.events.has("run:released")) {
      this.events.emit("run:released", {
        runId: exec.runId,
        workflow: exec.def.name,
        cause,
        claim: exec.claim,
        attempts: exec.attempts.values(exec.runId, exec.def.name),
      });
    }
    if (!this.stopping && reason !== "terminated") {
      this.events.emit("engine:error", { error, context: `run ${exec.runId} lost` });
    }
    this.kick();
  }

  /**
   * The execution runs under `claim` from now on; observers hear of it. A claim it still held (this
   * node adopted a newer fence for a run it executes) is released first; its attempts in flight go on
   * and end under the fence they began with.
   */
  private claimed(exec: RunExecution, claim: RunClaim): void {
    const previous = exec.claim as RunClaim | undefined;
    if (
      previous &&
      (exec.state === "active" || exec.state === "finishing") &&
      this.events.has("run:released")
    ) {
      const { runId, workflow } = previous;
      this.events.emit("run:released", {
        runId,
        workflow,
        cause: "superseded",
        claim: previous,
        attempts: [],
      });
    }
    exec.claim = claim;
    this.events.emit("run:claimed", claim);
  }

  // ---- claiming ----------------------------------------------------------------------------------

  /** Look for runnable runs soon (coalesced: many kicks in one turn make one claim pass). */
  kick(): void {
    this.claims.kick();
  }

  /** Execute a run just claimed; `claimedAt` is monotonicNow() when the claim was sent. */
  private async resume(row: RunRecord, claimedAt: number): Promise<void> {
    const runId = row.runId;
    const def = this.resolveWorkflow(row.workflow, row.version);
    if (!def) {
      // Another node may run this workflow; back off instead of failing the run.
      this.events.emit("engine:error", {
        error: new DirigentError(
          "WORKFLOW_UNAVAILABLE",
          `workflow "${row.workflow}" is not registered on ${this.nodeId}`,
        ),
        context: `run ${runId}`,
      });
      const wakeAt = this.clock.now() + 60_000;
      await this.batcher.submit({
        type: "suspendRun",
        runId,
        fence: row.fence,
        wakeAt,
        now: this.clock.now(),
      });
      return;
    }
    const hot = this.runs.hot(runId);
    if (hot && hot.state === "suspended" && hot.fence + 1 === row.fence) {
      this.runs.activate(hot);
      hot.lastUsedAt = this.clock.now();
      hot.leaseFrom = claimedAt;
      this.claimed(hot, {
        runId,
        workflow: def.name,
        fence: row.fence,
        replay: false,
        resumed: false,
        claimedAt: preciseNow(),
      });
      hot.resume(row.fence, row.cancelRequested);
      return;
    }
    if (hot && (hot.state === "active" || hot.state === "finishing") && hot.fence + 1 === row.fence) {
      // This node's own lease ran out (a stall longer than the lease) and no other node claimed the run
      // in between (the fence moved by exactly one): the execution here is still the current one. Adopt
      // the new fence instead of replaying beside it, which would run an in-flight step twice at once.
      hot.adoptFence(row.fence);
      hot.leaseFrom = claimedAt;
      this.claimed(hot, {
        runId,
        workflow: def.name,
        fence: row.fence,
        replay: false,
        takeover: true,
        resumed: true,
        claimedAt: preciseNow(),
      });
      if (row.cancelRequested && hot.state === "active") hot.cancel();
      return;
    }
    hot?.lose("claimed again with a newer fence", "superseded");
    this.pending++;
    let journal: Awaited<ReturnType<Store["loadJournal"]>>;
    try {
      journal = await this.store.loadJournal(runId);
    } catch (error) {
      this.events.emit("engine:error", { error, context: `load journal of ${runId}` });
      return; // the lease expires and the run is claimed again
    } finally {
      this.pending--;
    }
    const exec = new RunExecution(this, runId, def, row.fence, row.deadlineAt, journal);
    exec.createdAt = row.createdAt;
    exec.cancelPending = row.cancelRequested;
    exec.parentRunId = row.parentRunId;
    exec.leaseFrom = claimedAt;
    exec.lastUsedAt = this.clock.now();
    this.runs.activate(exec);
    const replay = journal.length > 0;
    const takeover = row.takeover === true;
    this.claimed(exec, {
      runId,
      workflow: def.name,
      fence: row.fence,
      replay,
      takeover,
      // A run claimed before (fence > 1) that this execution never ran was begun elsewhere.
      resumed: replay || takeover || row.fence > 1,
      claimedAt: preciseNow(),
    });
    exec.begin(row.input);
  }

  /** Periodic work besides claiming: take back expired task leases, fire due schedules. */
  private async maintenance(): Promise<void> {
    if (!this.canExecute()) return;
    try {
      await this.tasks.sweep();
      await this.schedules.tick();
    } catch (error) {
      this.events.emit("engine:error", { error, context: "maintenance" });
    }
  }

  /** Counts for tests and metrics. */
  stats() {
    return {
      active: this.runs.activeCount,
      /** Runs claimed or started whose execution has not begun yet (journal loading, start committing). */
      pending: this.pending,
      cached: this.runs.cachedCount,
      /** Callers awaiting a run's end (waitForFinish, result long-polls). */
      resultWaiters: this.finishWaiters.size,
      batches: this.batcher.stats.batches,
      writes: this.batcher.stats.ops,
    };
  }
}

/**
 * Create an engine. Call `start()` to begin executing; `stop()` to shut down gracefully.
 *
 * @example
 * const store = new SqliteStore({ path: "dirigent.db" });
 * const engine = createEngine({ store, workflows: [placeOrder] });
 * await engine.start();
 * const { runId } = await engine.startRun("place-order", { amount: 42 });
 */
export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}
