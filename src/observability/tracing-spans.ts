import {
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { ErrorInfo, RunStatus } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import type { EngineEventMap, OutgoingCall } from "../runtime/events.js";
import { BoundedMap } from "./bounded.js";
import type { RunIdGenerator } from "./id-generator.js";

/** Attribute names on Dirigent's spans. */
export const ATTR = {
  runId: "dirigent.run_id",
  workflow: "dirigent.workflow",
  step: "dirigent.step",
  seq: "dirigent.seq",
  attempt: "dirigent.attempt",
  fence: "dirigent.fence",
  replay: "dirigent.replay",
  takeover: "dirigent.takeover",
  node: "dirigent.node",
  status: "dirigent.run.status",
  retryDelayMs: "dirigent.retry.delay_ms",
  queue: "dirigent.task.queue",
  errorCode: "dirigent.error.code",
  ended: "dirigent.span.ended_by",
} as const;

/** What this process knows about a run it traces. */
interface RunState {
  /** The root span's context (ids derived from the run id) and whether the run is sampled. */
  rootSpan: SpanContext;
  /** The root as a parent context, made when first needed (runs not sampled never need it). */
  root?: Context;
  sampled: boolean;
  workflow: string;
  /** Wall-clock creation time, when this process created the run. */
  createdAt?: number;
  /** True once this process created or claimed the run. */
  seenHere: boolean;
  /** The open claim span ("execute"), and the context of its children. */
  segment?: Span;
  segmentCtx?: Context;
}

/** Runs and open attempt spans kept at most (runs lost without an event would otherwise stay). */
const MAX_RUNS = 100_000;

/**
 * The spans of runs, driven by engine events: `run <workflow>` (root, written when the run finishes,
 * from its creation time), `execute <workflow>` (one claim of the run by a node, from claim to suspend
 * or finish) and `step <name>` (one attempt). The root's ids derive from the run id, so children
 * written before it, by any node, already point at it. Runs not sampled cost one hash and no spans.
 */
export class RunSpans {
  private readonly runs = new BoundedMap<string, RunState>(MAX_RUNS);
  private readonly attempts = new Map<string, Span>();
  /** Span ids of attempts just ended, so listeners after this one (logs) still find them. */
  private readonly ended = new BoundedMap<string, string>(10_000);
  /** Whether anyone asked for span ids (logs do); until then `ended` is not kept. */
  private keepEnded = false;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly tracer: Tracer,
    private readonly ids: RunIdGenerator,
    private readonly deriveRoot: (runId: string) => SpanContext,
  ) {}

  /** The context of the run's root span: the parent of every other span of the run. */
  rootContext(runId: string): Context {
    return rootOf(this.state(runId));
  }

  /** A run's trace id, without keeping state for it. */
  traceIdOf(runId: string): string {
    return (this.runs.get(runId)?.rootSpan ?? this.deriveRoot(runId)).traceId;
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
        if (s) endSegment(s);
      }),
      engine.events.on("run:finished", (e) => this.finished(engine, e.runId, e.workflow, e.status, e.error)),
      engine.events.on("step:started", ({ runId, seq, name, attempt }) => {
        const s = this.state(runId);
        if (!s.sampled) return;
        const key = `${runId}:${seq}`;
        this.attempts.get(key)?.setAttribute(ATTR.ended, "superseded").end();
        const span = this.tracer.startSpan(
          `step ${name}`,
          {
            kind: SpanKind.INTERNAL,
            attributes: {
              "dirigent.run_id": runId,
              "dirigent.workflow": s.workflow,
              "dirigent.step": name,
              "dirigent.seq": seq,
              "dirigent.attempt": attempt,
            },
          },
          s.segmentCtx ?? rootOf(s),
        );
        this.attempts.set(key, span);
        if (this.attempts.size > MAX_RUNS) this.evictAttempt();
      }),
      engine.events.on("step:completed", ({ runId, seq }) => {
        this.takeAttempt(runId, seq)?.setStatus({ code: SpanStatusCode.OK }).end();
      }),
      engine.events.on("step:retrying", ({ runId, seq, delayMs, error }) => {
        const span = this.takeAttempt(runId, seq);
        if (!span) return;
        span.setAttribute(ATTR.retryDelayMs, delayMs);
        fail(span, error);
        span.end();
      }),
      engine.events.on("step:failed", ({ runId, seq, error }) => {
        const span = this.takeAttempt(runId, seq);
        if (!span) return;
        fail(span, error);
        span.end();
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  attemptSpan(runId: string, seq: number): SpanContext | undefined {
    return this.attempts.get(`${runId}:${seq}`)?.spanContext();
  }

  /** The span id of the attempt of step `seq` in flight, or of the one that just ended. */
  attemptSpanId(runId: string, seq: number): string | undefined {
    this.keepEnded = true;
    const key = `${runId}:${seq}`;
    return this.attempts.get(key)?.spanContext().spanId ?? this.ended.get(key);
  }

  /** The attempt span of the step whose idempotency key is `key` (`<runId>:<seq>`). */
  attemptSpanByKey(key: string): SpanContext | undefined {
    return this.attempts.get(key)?.spanContext();
  }

  /**
   * A PRODUCER span for a task being queued, ended at once; the worker's spans become its children.
   * For a run not sampled, the run's context (flags 00) so the worker does not sample either.
   */
  taskSpan(call: OutgoingCall): SpanContext {
    const s = this.state(call.runId, call.workflow);
    if (!s.sampled) return s.rootSpan;
    const span = this.tracer.startSpan(
      `task ${call.name}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "dirigent.run_id": call.runId,
          "dirigent.workflow": call.workflow,
          "dirigent.step": call.name,
          "dirigent.seq": call.seq,
          ...(call.queue ? { "dirigent.task.queue": call.queue } : {}),
        },
      },
      s.segmentCtx ?? rootOf(s),
    );
    span.end();
    return span.spanContext();
  }

  /** End every open span (engine stopped, tracing shut down), marked with why. */
  endAll(reason: string): void {
    for (const span of this.attempts.values()) span.setAttribute(ATTR.ended, reason).end();
    this.attempts.clear();
    for (const s of this.runsWithSegments()) endSegment(s, reason);
    this.runs.clear();
  }

  /** Resolves once root spans waiting for a store read have been written. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private state(runId: string, workflow?: string): RunState {
    let s = this.runs.get(runId);
    if (!s) {
      const rootSpan = this.deriveRoot(runId);
      s = {
        rootSpan,
        sampled: (rootSpan.traceFlags & TraceFlags.SAMPLED) !== 0,
        workflow: workflow || "unknown",
        seenHere: false,
      };
      this.runs.set(runId, s);
    } else if (workflow && s.workflow === "unknown") s.workflow = workflow;
    return s;
  }

  private claimed(engine: Engine, e: EngineEventMap["run:claimed"]): void {
    const s = this.state(e.runId, e.workflow);
    // A claim that replays the journal, or picks up a run this process never ran, continues a run
    // begun earlier, perhaps on a node that crashed: link it to the run's root, its original trace.
    const resumed = e.replay || e.takeover === true || (e.fence > 1 && !s.seenHere);
    s.seenHere = true;
    if (!s.sampled) return;
    endSegment(s, "superseded");
    const links: Link[] | undefined = resumed
      ? [{ context: s.rootSpan, attributes: { "dirigent.link": "resumed" } }]
      : undefined;
    const span = this.tracer.startSpan(
      `execute ${e.workflow}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          "dirigent.run_id": e.runId,
          "dirigent.workflow": e.workflow,
          "dirigent.fence": e.fence,
          "dirigent.replay": e.replay,
          "dirigent.node": engine.nodeId,
          ...(e.takeover !== undefined ? { "dirigent.takeover": e.takeover } : {}),
        },
        links,
      },
      rootOf(s),
    );
    s.segment = span;
    s.segmentCtx = trace.setSpan(rootOf(s), span);
  }

  private finished(
    engine: Engine,
    runId: string,
    workflow: string,
    status: RunStatus,
    error?: ErrorInfo,
  ): void {
    const s = this.state(runId, workflow);
    this.runs.delete(runId);
    if (!s.sampled) return;
    if (s.segment && error && status === "failed") fail(s.segment, error);
    endSegment(s);
    const endTime = Date.now();
    if (s.createdAt !== undefined && s.workflow !== "unknown") {
      this.writeRoot(runId, s, status, error, s.createdAt, endTime);
      return;
    }
    // Created elsewhere (another node, or a child run): its creation time and workflow are in the store.
    const p = engine.store
      .getRun(runId)
      .then(
        (run) => {
          if (s.workflow === "unknown" && run) s.workflow = run.workflow;
          this.writeRoot(runId, s, status, error, run?.createdAt ?? endTime, endTime);
        },
        () => this.writeRoot(runId, s, status, error, endTime, endTime),
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private writeRoot(
    runId: string,
    s: RunState,
    status: RunStatus,
    error: ErrorInfo | undefined,
    startTime: number,
    endTime: number,
  ): void {
    const span = this.ids.withIds(s.rootSpan.traceId, s.rootSpan.spanId, () =>
      this.tracer.startSpan(
        `run ${s.workflow}`,
        {
          root: true,
          kind: SpanKind.INTERNAL,
          startTime,
          attributes: {
            "dirigent.run_id": runId,
            "dirigent.workflow": s.workflow,
            "dirigent.run.status": status,
          },
        },
        ROOT_CONTEXT,
      ),
    );
    if (status === "failed" && error) fail(span, error);
    else if (status === "completed") span.setStatus({ code: SpanStatusCode.OK });
    span.end(Math.max(endTime, startTime));
  }

  private takeAttempt(runId: string, seq: number): Span | undefined {
    const key = `${runId}:${seq}`;
    const span = this.attempts.get(key);
    if (!span) return undefined;
    this.attempts.delete(key);
    if (this.keepEnded) this.ended.set(key, span.spanContext().spanId);
    return span;
  }

  private evictAttempt(): void {
    const [key, span] = this.attempts.entries().next().value as [string, Span];
    this.attempts.delete(key);
    span.setAttribute(ATTR.ended, "evicted").end();
  }

  private *runsWithSegments(): Generator<RunState> {
    for (const s of this.runs.values()) if (s.segment) yield s;
  }
}

function rootOf(s: RunState): Context {
  s.root ??= trace.setSpanContext(ROOT_CONTEXT, s.rootSpan);
  return s.root;
}

function endSegment(s: RunState, endedBy?: string): void {
  const span = s.segment;
  if (!span) return;
  s.segment = undefined;
  s.segmentCtx = undefined;
  if (endedBy) span.setAttribute(ATTR.ended, endedBy);
  span.end();
}

function fail(span: Span, error: ErrorInfo): void {
  span.recordException({ name: error.name, message: error.message, code: error.code, stack: error.stack });
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  if (error.code) span.setAttribute(ATTR.errorCode, error.code);
}
