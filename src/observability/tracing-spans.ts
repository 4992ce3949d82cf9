import type { ErrorInfo, RunStatus } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import type { EngineEventMap, OutgoingCall, RunClaim, StepAttempt } from "../runtime/events.js";
import { preciseNow } from "../runtime/precise-time.js";
import { BoundedMap } from "./bounded.js";
import type { RunIds, SpanIds } from "./span-ids.js";
import { CLAIM_FLAG, SPAN_STATUS, SPAN_TYPE, type SpanDetail, type SpanStatus } from "./span-records.js";
import type { SpanSink } from "./span-sink.js";
import { traceparentOf } from "./trace-context.js";

export { ATTR } from "./span-attributes.js";

/** Sampling decisions kept at most (only when sampling: one per run in flight). */
const MAX_SAMPLED_RUNS = 100_000;

/** The fields of a step attempt its span id derives from. */
export type AttemptKey = Pick<StepAttempt, "runId" | "fence" | "seq" | "attempt">;

/**
 * The spans of runs, driven by engine events: `run <workflow>` (root, written when the run finishes,
 * from its creation time), `execute <workflow>` (one claim of the run by a node, from claim to suspend,
 * finish or release) and `step <name>` (one attempt). Every id derives from the run id (span-ids.ts),
 * so spans written before the root, by any node, already point at it.
 *
 * It keeps nothing per run: each event carries what its span needs (the claim, the attempt's fence
 * and start), so a span is written when the event that ends it arrives. Per-run records here, with
 * thousands of runs in flight, cost the engine's thread more than the spans themselves: they outlive
 * young-generation collections and are copied and promoted (bench: observability-cost). A span id is
 * hashed here only when an outgoing call or a log line asks for it.
 */
export class RunSpans {
  /** Engines listened to: for the runs they execute when asked about an attempt in flight, or at the end. */
  private readonly engines = new Set<Engine>();
  /** Decisions of sampledRun by run id (absent when every run is traced). */
  private readonly sampledRuns: BoundedMap<string, boolean> | undefined;
  private readonly pending = new Set<Promise<void>>();

  /**
   * @param sampledRun whether a run is traced, from its trace id; undefined when every run is (then
   * nothing is hashed for a run unless asked).
   */
  constructor(
    private readonly sink: SpanSink,
    private readonly ids: SpanIds,
    private readonly sampledRun: ((traceId: string) => boolean) | undefined,
  ) {
    if (sampledRun) this.sampledRuns = new BoundedMap(MAX_SAMPLED_RUNS);
  }

  /** A run's trace id. */
  traceIdOf(runId: string): string {
    return this.ids.run(runId).traceId;
  }

  listen(engine: Engine): () => void {
    this.engines.add(engine);
    const offs = [
      engine.events.on("run:suspended", ({ claim }) => this.endClaim(engine, claim, SPAN_STATUS.unset)),
      // This node let the run go (lease lost, engine stopping, ...): its claim and attempts in flight end.
      engine.events.on("run:released", ({ claim, attempts, cause }) => {
        if (!this.sampled(claim.runId)) return;
        for (const a of attempts) this.writeAttempt(a, preciseNow(), SPAN_STATUS.unset, { endedBy: cause });
        this.endClaim(engine, claim, SPAN_STATUS.unset, cause);
      }),
      engine.events.on("run:finished", (e) => this.finished(engine, e)),
      engine.events.on("step:completed", (e) => {
        if (this.sampled(e.runId)) this.writeAttempt(e, preciseNow(), SPAN_STATUS.ok);
      }),
      engine.events.on("step:retrying", (e) => {
        if (!this.sampled(e.runId)) return;
        const detail = { error: errorOf(e.error), retryDelayMs: e.delayMs };
        this.writeAttempt(e, preciseNow(), SPAN_STATUS.error, detail);
      }),
      engine.events.on("step:failed", (e) => {
        if (this.sampled(e.runId))
          this.writeAttempt(e, preciseNow(), SPAN_STATUS.error, { error: errorOf(e.error) });
      }),
    ];
    return () => {
      this.engines.delete(engine);
      for (const off of offs) off();
    };
  }

  /** The traceparent for a step's outgoing call: the attempt's span for HTTP, a PRODUCER span for a task. */
  callTraceparent(call: OutgoingCall): string {
    if (call.kind === "task") return this.taskTraceparent(call);
    const ids = this.ids.run(call.runId);
    return traceparentOf(
      ids.traceId,
      this.ids.attempt(ids, call.fence, call.seq, call.attempt),
      this.sampled(call.runId, ids),
    );
  }

  /** Like an HTTP call's traceparent, for the attempt in flight here with this idempotency key (`<runId>:<seq>`). */
  attemptTraceparentByKey(key: string): string | undefined {
    const at = key.lastIndexOf(":");
    const seq = Number(key.slice(at + 1));
    if (at <= 0 || !Number.isInteger(seq)) return undefined;
    const attempt = this.inFlight(key.slice(0, at), seq);
    return attempt && this.callTraceparent({ kind: "http", ...attempt });
  }

  /** The span id of a step attempt. */
  attemptSpanId(a: AttemptKey): string {
    return this.ids.attempt(this.ids.run(a.runId), a.fence, a.seq, a.attempt);
  }

  /** The span id of the attempt of step `seq` in flight on an engine listened to. */
  inFlightSpanId(runId: string, seq: number): string | undefined {
    const attempt = this.inFlight(runId, seq);
    return attempt && this.attemptSpanId(attempt);
  }

  /** End the open spans of every run executing on the engines listened to (tracing shuts down), marked with why. */
  endAll(reason: string): void {
    for (const engine of this.engines) {
      for (const { claim, attempts } of engine.runsInFlight()) {
        if (!this.sampled(claim.runId)) continue;
        for (const a of attempts) this.writeAttempt(a, preciseNow(), SPAN_STATUS.unset, { endedBy: reason });
        this.endClaim(engine, claim, SPAN_STATUS.unset, reason);
      }
    }
  }

  /** Resolves once root spans waiting for a store read have been written. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /**
   * A PRODUCER span for a task being queued, ended at once; the worker's spans become its children.
   * For a run not sampled, the run's root (flags 00) so the worker does not sample either.
   */
  private taskTraceparent(call: OutgoingCall): string {
    const ids = this.ids.run(call.runId);
    if (!this.sampled(call.runId, ids)) return traceparentOf(ids.traceId, ids.rootSpanId, false);
    const now = preciseNow();
    const detail = call.queue ? { queue: call.queue } : undefined;
    this.sink.span(
      SPAN_TYPE.task,
      call.runId,
      call.workflow,
      call.name,
      call.seq,
      call.fence,
      0,
      now,
      now,
      SPAN_STATUS.unset,
      detail,
    );
    return traceparentOf(ids.traceId, this.ids.task(ids, call.fence, call.seq), true);
  }

  private inFlight(runId: string, seq: number): StepAttempt | undefined {
    for (const engine of this.engines) {
      const attempt = engine.inFlight(runId)?.attempts.find((a) => a.seq === seq);
      if (attempt) return attempt;
    }
    return undefined;
  }

  /** Whether the run is traced: always, unless sampling (then decided once per run from its trace id). */
  private sampled(runId: string, ids?: RunIds): boolean {
    if (!this.sampledRun) return true;
    let decision = this.sampledRuns!.get(runId);
    if (decision === undefined) {
      decision = this.sampledRun((ids ?? this.ids.run(runId)).traceId);
      this.sampledRuns!.set(runId, decision);
    }
    return decision;
  }

  private writeAttempt(a: StepAttempt, end: number, status: SpanStatus, detail?: SpanDetail): void {
    const { runId, workflow, name, seq, fence, attempt, startedAt } = a;
    this.sink.span(
      SPAN_TYPE.step,
      runId,
      workflow,
      name,
      seq,
      fence,
      attempt,
      startedAt,
      end,
      status,
      detail,
    );
  }

  private endClaim(
    engine: Engine,
    claim: RunClaim,
    status: SpanStatus,
    endedBy?: string,
    error?: ErrorInfo,
  ): void {
    if (!this.sampled(claim.runId)) return;
    const detail: SpanDetail | undefined =
      endedBy || error ? { endedBy, error: error && errorOf(error) } : undefined;
    this.sink.span(
      SPAN_TYPE.execute,
      claim.runId,
      claim.workflow,
      engine.nodeId,
      0,
      claim.fence,
      claimFlags(claim),
      claim.claimedAt,
      preciseNow(),
      status,
      detail,
    );
  }

  private finished(engine: Engine, e: EngineEventMap["run:finished"]): void {
    const { runId, status, error, durationMs, claim } = e;
    const sampled = this.sampled(runId);
    this.sampledRuns?.delete(runId); // the run's last event here
    if (!sampled) return;
    const failed = status === "failed" && error !== undefined;
    if (claim)
      this.endClaim(
        engine,
        claim,
        failed ? SPAN_STATUS.error : SPAN_STATUS.unset,
        undefined,
        failed ? error : undefined,
      );
    const endTime = Date.now();
    if (e.workflow && durationMs !== undefined) {
      // The root starts at the run's creation; never after its claim began (an injected engine clock
      // may not run with the wall clock).
      const start = Math.min(endTime - durationMs, claim?.claimedAt ?? Number.POSITIVE_INFINITY);
      this.writeRoot(runId, e.workflow, status, error, start, endTime);
      return;
    }
    // Not timed by the event (terminated while not held here): ask the store.
    const p = engine.store
      .getRun(runId)
      .then(
        (run) =>
          this.writeRoot(
            runId,
            e.workflow || run?.workflow || "unknown",
            status,
            error,
            run?.createdAt ?? endTime,
            endTime,
          ),
        () => this.writeRoot(runId, e.workflow || "unknown", status, error, endTime, endTime),
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private writeRoot(
    runId: string,
    workflow: string,
    status: RunStatus,
    error: ErrorInfo | undefined,
    startTime: number,
    endTime: number,
  ): void {
    const failed = status === "failed" && error !== undefined;
    this.sink.span(
      SPAN_TYPE.run,
      runId,
      workflow,
      status,
      0,
      0,
      0,
      startTime,
      Math.max(endTime, startTime),
      failed ? SPAN_STATUS.error : status === "completed" ? SPAN_STATUS.ok : SPAN_STATUS.unset,
      failed ? { error: errorOf(error) } : undefined,
    );
  }
}

/** The CLAIM_FLAG bits of an execute span. */
function claimFlags(claim: RunClaim): number {
  return (
    (claim.replay ? CLAIM_FLAG.replay : 0) |
    (claim.takeover !== undefined ? CLAIM_FLAG.takeoverKnown : 0) |
    (claim.takeover ? CLAIM_FLAG.takeover : 0) |
    (claim.resumed ? CLAIM_FLAG.resumed : 0)
  );
}

/** The parts of an error a span records (no `details`: it may be large and need not cross threads). */
function errorOf(error: ErrorInfo): NonNullable<SpanDetail["error"]> {
  return { name: error.name, message: error.message, code: error.code, stack: error.stack };
}
