import type { ErrorInfo, RunStatus } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import type { EngineEventMap, OutgoingCall } from "../runtime/events.js";
import { BoundedMap } from "./bounded.js";
import { OpenAttempts } from "./open-attempts.js";
import type { RunIds, SpanIds } from "./span-ids.js";
import {
  CLAIM_FLAG,
  preciseNow,
  SPAN_STATUS,
  SPAN_TYPE,
  type SpanDetail,
  type SpanStatus,
} from "./span-records.js";
import type { SpanSink } from "./span-sink.js";
import { traceparentOf } from "./trace-context.js";

export { ATTR } from "./span-attributes.js";

/** A step attempt begun and not yet ended. */
interface OpenAttempt {
  seq: number;
  attempt: number;
  /** The claim it runs under (0: none seen). */
  fence: number;
  name: string;
  start: number;
}

/** What this process knows about a run it traces. */
interface RunState {
  runId: string;
  workflow: string;
  sampled: boolean;
  /** Trace and root span ids, hashed from the run id when first needed. */
  ids?: RunIds;
  /** Wall-clock creation time, when this process created the run. */
  createdAt?: number;
  /** True once this process created or claimed the run. */
  seenHere: boolean;
  /** The open claim ("execute" span): its fence (0 when none is open), start, node and CLAIM_FLAG bits. */
  fence: number;
  claimStart: number;
  claimNode: string;
  claimFlags: number;
  /** Open attempts by seq (several when steps run in parallel). */
  open: OpenAttempts<OpenAttempt>;
}

/** Runs kept at most (runs lost without an event would otherwise stay). */
const MAX_RUNS = 100_000;

/**
 * The spans of runs, driven by engine events: `run <workflow>` (root, written when the run finishes,
 * from its creation time), `execute <workflow>` (one claim of the run by a node, from claim to suspend
 * or finish) and `step <name>` (one attempt). Every id derives from the run id (span-ids.ts), so spans
 * written before the root, by any node, already point at it.
 *
 * This runs in the engine's thread on every step, so it keeps only times and numbers: a finished span
 * becomes one record for the sink, which builds the OpenTelemetry span elsewhere (span-sink.ts), and an
 * id is hashed here only when an outgoing call or a log line asks for it.
 */
export class RunSpans {
  private readonly runs = new BoundedMap<string, RunState>(MAX_RUNS);
  /** Attempts just ended by `<runId>:<seq>`, so listeners after this one (logs) still find their span. */
  private readonly ended = new BoundedMap<string, OpenAttempt>(10_000);
  /** Whether anyone asked for span ids (logs do); until then `ended` is not kept. */
  private keepEnded = false;
  private readonly pending = new Set<Promise<void>>();

  /**
   * @param sampledRun whether a run is traced, from its trace id; undefined when every run is (then
   * nothing is hashed for a run unless asked).
   */
  constructor(
    private readonly sink: SpanSink,
    private readonly ids: SpanIds,
    private readonly sampledRun: ((traceId: string) => boolean) | undefined,
  ) {}

  /** The traceparent of the run's root span: the parent of every other span of the run. */
  rootTraceparent(runId: string): string {
    const s = this.state(runId);
    return traceparentOf(this.idsOf(s).traceId, this.idsOf(s).rootSpanId, s.sampled);
  }

  /** A run's trace id. */
  traceIdOf(runId: string): string {
    const s = this.runs.get(runId);
    return s ? this.idsOf(s).traceId : this.ids.run(runId).traceId;
  }

  listen(engine: Engine): () => void {
    const offs = [
      engine.events.on("run:created", ({ runId, workflow }) => {
        const s = this.state(runId, workflow);
        s.createdAt = Date.now();
        s.seenHere = true;
      }),
      engine.events.on("run:claimed", (e) => this.claimed(engine, e)),
      engine.events.on("run:suspended", ({ runId }) => {
        const s = this.runs.get(runId);
        if (s) this.endClaim(s, SPAN_STATUS.unset);
      }),
      // A run whose lease this node lost was aborted here: its open spans end, marked so.
      engine.events.on("run:lease-lost", ({ runId }) => {
        const s = this.runs.get(runId);
        if (!s) return;
        for (const open of s.open.values())
          this.endAttempt(s, open, SPAN_STATUS.unset, { endedBy: "lease-lost" });
        this.endClaim(s, SPAN_STATUS.unset, "lease-lost");
      }),
      engine.events.on("run:finished", (e) => this.finished(engine, e)),
      engine.events.on("step:started", ({ runId, seq, name, attempt }) => {
        const s = this.state(runId);
        if (!s.sampled) return;
        const superseded = s.open.get(seq);
        if (superseded) this.endAttempt(s, superseded, SPAN_STATUS.unset, { endedBy: "superseded" });
        s.open.set(seq, { seq, attempt, fence: s.fence, name, start: preciseNow() });
      }),
      engine.events.on("step:completed", ({ runId, seq }) => {
        const s = this.runs.get(runId);
        const open = s?.open.get(seq);
        if (open) this.endAttempt(s!, open, SPAN_STATUS.ok);
      }),
      engine.events.on("step:retrying", ({ runId, seq, delayMs, error }) => {
        const s = this.runs.get(runId);
        const open = s?.open.get(seq);
        if (open)
          this.endAttempt(s!, open, SPAN_STATUS.error, { error: errorOf(error), retryDelayMs: delayMs });
      }),
      engine.events.on("step:failed", ({ runId, seq, error }) => {
        const s = this.runs.get(runId);
        const open = s?.open.get(seq);
        if (open) this.endAttempt(s!, open, SPAN_STATUS.error, { error: errorOf(error) });
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /** The traceparent of the attempt of step `seq` in flight (its outgoing HTTP calls carry it). */
  attemptTraceparent(runId: string, seq: number): string | undefined {
    const s = this.runs.get(runId);
    const open = s?.open.get(seq);
    if (!open) return undefined;
    return traceparentOf(this.idsOf(s!).traceId, this.attemptSpanIdOf(runId, open), true);
  }

  /** Like attemptTraceparent, by the step's idempotency key (`<runId>:<seq>`). */
  attemptTraceparentByKey(key: string): string | undefined {
    const at = key.lastIndexOf(":");
    const seq = Number(key.slice(at + 1));
    return at > 0 && Number.isInteger(seq) ? this.attemptTraceparent(key.slice(0, at), seq) : undefined;
  }

  /** The span id of the attempt of step `seq` in flight, or of the one that just ended. */
  attemptSpanId(runId: string, seq: number): string | undefined {
    this.keepEnded = true;
    const open = this.runs.get(runId)?.open.get(seq) ?? this.ended.get(`${runId}:${seq}`);
    return open && this.attemptSpanIdOf(runId, open);
  }

  /**
   * A PRODUCER span for a task being queued, ended at once; the worker's spans become its children.
   * For a run not sampled, the run's root (flags 00) so the worker does not sample either.
   */
  taskTraceparent(call: OutgoingCall): string {
    const s = this.state(call.runId, call.workflow);
    const ids = this.idsOf(s);
    const { traceId, rootSpanId } = ids;
    if (!s.sampled) return traceparentOf(traceId, rootSpanId, false);
    const now = preciseNow();
    this.sink.span(
      SPAN_TYPE.task,
      call.runId,
      call.workflow,
      call.name,
      call.seq,
      s.fence,
      0,
      now,
      now,
      SPAN_STATUS.unset,
      call.queue ? { queue: call.queue } : undefined,
    );
    return traceparentOf(traceId, this.ids.task(ids, s.fence, call.seq), true);
  }

  /** End every open span (engine stopped, tracing shut down), marked with why. */
  endAll(reason: string): void {
    for (const s of this.runs.values()) {
      for (const open of s.open.values()) {
        this.endAttempt(s, open, SPAN_STATUS.unset, { endedBy: reason });
      }
      this.endClaim(s, SPAN_STATUS.unset, reason);
    }
    this.runs.clear();
  }

  /** Resolves once root spans waiting for a store read have been written. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private state(runId: string, workflow?: string): RunState {
    let s = this.runs.get(runId);
    if (!s) {
      let ids: RunIds | undefined;
      if (this.sampledRun) ids = this.ids.run(runId);
      s = {
        runId,
        workflow: workflow || "unknown",
        sampled: ids ? this.sampledRun!(ids.traceId) : true,
        ids,
        seenHere: false,
        fence: 0,
        claimStart: 0,
        claimNode: "",
        claimFlags: 0,
        open: new OpenAttempts(),
      };
      this.runs.set(runId, s);
    } else if (workflow && s.workflow === "unknown") s.workflow = workflow;
    return s;
  }

  private idsOf(s: RunState): RunIds {
    s.ids ??= this.ids.run(s.runId);
    return s.ids;
  }

  /** From the run's kept ids; an attempt that just ended may belong to a run already forgotten. */
  private attemptSpanIdOf(runId: string, a: OpenAttempt): string {
    const s = this.runs.get(runId);
    return this.ids.attempt(s ? this.idsOf(s) : this.ids.run(runId), a.fence, a.seq, a.attempt);
  }

  private endAttempt(s: RunState, open: OpenAttempt, status: SpanStatus, detail?: SpanDetail): void {
    s.open.delete(open.seq);
    if (this.keepEnded) this.ended.set(`${s.runId}:${open.seq}`, open);
    this.sink.span(
      SPAN_TYPE.step,
      s.runId,
      s.workflow,
      open.name,
      open.seq,
      open.fence,
      open.attempt,
      open.start,
      preciseNow(),
      status,
      detail,
    );
  }

  private claimed(engine: Engine, e: EngineEventMap["run:claimed"]): void {
    const s = this.state(e.runId, e.workflow);
    // A claim that replays the journal, or picks up a run this process never ran, continues a run
    // begun earlier, perhaps on a node that crashed: link it to the run's root, its original trace.
    const resumed = e.replay || e.takeover === true || (e.fence > 1 && !s.seenHere);
    s.seenHere = true;
    if (!s.sampled) return;
    this.endClaim(s, SPAN_STATUS.unset, "superseded");
    s.fence = e.fence;
    s.claimStart = preciseNow();
    s.claimNode = engine.nodeId;
    s.claimFlags =
      (e.replay ? CLAIM_FLAG.replay : 0) |
      (e.takeover !== undefined ? CLAIM_FLAG.takeoverKnown : 0) |
      (e.takeover ? CLAIM_FLAG.takeover : 0) |
      (resumed ? CLAIM_FLAG.resumed : 0);
  }

  private endClaim(s: RunState, status: SpanStatus, endedBy?: string, error?: ErrorInfo): void {
    if (s.fence === 0 || s.claimStart === 0) return;
    const start = s.claimStart;
    s.claimStart = 0;
    const detail: SpanDetail | undefined =
      endedBy || error ? { endedBy, error: error && errorOf(error) } : undefined;
    this.sink.span(
      SPAN_TYPE.execute,
      s.runId,
      s.workflow,
      s.claimNode,
      0,
      s.fence,
      s.claimFlags,
      start,
      preciseNow(),
      status,
      detail,
    );
  }

  private finished(engine: Engine, e: EngineEventMap["run:finished"]): void {
    const { runId, status, error, durationMs } = e;
    const s = this.state(runId, e.workflow);
    this.runs.delete(runId);
    if (!s.sampled) return;
    const failed = status === "failed" && error !== undefined;
    this.endClaim(s, failed ? SPAN_STATUS.error : SPAN_STATUS.unset, undefined, failed ? error : undefined);
    const endTime = Date.now();
    if (s.workflow !== "unknown" && (s.createdAt !== undefined || durationMs !== undefined)) {
      this.writeRoot(s, status, error, s.createdAt ?? endTime - durationMs!, endTime);
      return;
    }
    // Neither created here nor timed by the event (terminated while not held here): ask the store.
    const p = engine.store
      .getRun(runId)
      .then(
        (run) => {
          if (s.workflow === "unknown" && run) s.workflow = run.workflow;
          this.writeRoot(s, status, error, run?.createdAt ?? endTime, endTime);
        },
        () => this.writeRoot(s, status, error, endTime, endTime),
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private writeRoot(
    s: RunState,
    status: RunStatus,
    error: ErrorInfo | undefined,
    startTime: number,
    endTime: number,
  ): void {
    const failed = status === "failed" && error !== undefined;
    this.sink.span(
      SPAN_TYPE.run,
      s.runId,
      s.workflow,
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

/** The parts of an error a span records (no `details`: it may be large and need not cross threads). */
function errorOf(error: ErrorInfo): NonNullable<SpanDetail["error"]> {
  return { name: error.name, message: error.message, code: error.code, stack: error.stack };
}
