import crypto from "node:crypto";
import {
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type SpanContext,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

const propagator = new W3CTraceContextPropagator();

/**
 * The trace id of a run: derived from its run id (SHA-256, first 16 bytes), so every node that
 * executes the run, before and after a crash, writes its spans into the same trace without sharing
 * any state. `namespace` separates deployments whose run ids may coincide in one tracing backend.
 */
export function runTraceId(runId: string, namespace = ""): string {
  return runDigestBytes(runId, namespace).toString("hex", 0, 16);
}

/** The span id of a run's root span ("run <workflow>"), derived like the trace id. */
export function runRootSpanId(runId: string, namespace = ""): string {
  return runDigestBytes(runId, namespace).toString("hex", 16, 24);
}

/** The span context of a run's root span, as the parent of the spans nodes write for it. */
export function runRootSpanContext(runId: string, sampled: boolean, namespace = ""): SpanContext {
  const digest = runDigestBytes(runId, namespace);
  return {
    traceId: digest.toString("hex", 0, 16),
    spanId: digest.toString("hex", 16, 24),
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: false,
  };
}

/**
 * The span id of a span within a run, derived from the run id and `part`, which names the span
 * uniquely within the run: `c<fence>` a claim, `s<fence>.<seq>.<attempt>` a step attempt,
 * `t<fence>.<seq>` a queued task. Deriving ids (rather than drawing random ones) lets the thread that
 * builds spans compute them, and the engine's thread only when a call or a log line needs one.
 */
export function runSpanId(runId: string, part: string, namespace = ""): string {
  const id = Buffer.allocUnsafe(8);
  deriveSpanId(runDigestBytes(runId, namespace), part, id);
  return id.toString("hex");
}

/** The first character of a part (runSpanId), as derivePartSpanId takes it. */
export const SPAN_PART = { claim: 0x63, step: 0x73, task: 0x74 } as const;

/** derivePartSpanId as hex, from the run's digest (runDigestBytes), for a caller that keeps it. */
export function partSpanIdHex(digest: Uint8Array, kind: number, n1: number, n2 = -1, n3 = -1): string {
  const id = Buffer.allocUnsafe(8);
  derivePartSpanId(digest, kind, n1, n2, n3, id);
  return id.toString("hex");
}

/**
 * runTraceId and runRootSpanId as bytes, for an encoder that writes ids in binary (OTLP protobuf):
 * the 32-byte digest whose bytes 0..15 are the trace id and 16..23 the root span id.
 */
export function runDigestBytes(runId: string, namespace = ""): Buffer {
  return hashBytes(`dirigent/${namespace}/${runId}`);
}

/**
 * Write the span id of `part` (see runSpanId) into `into[0..8)`, from the run's digest
 * (runDigestBytes). Its bytes 24..31, which no other id uses, seed two 32-bit lanes that take in the
 * part's characters (FNV-1a steps, cross-mixed) and are finished with MurmurHash3's avalanche. Span
 * ids only need to differ within one trace, so a run's one SHA-256 is enough: a second SHA-256 per
 * span cost the tracing worker a third of its encoding time.
 */
export function deriveSpanId(digest: Uint8Array, part: string, into: Uint8Array): void {
  seedLanes(digest);
  for (let i = 0; i < part.length; i++) feed(part.charCodeAt(i));
  finishLanes(into);
}

/**
 * deriveSpanId of the part `<kind><n1>[.<n2>[.<n3>]]` (n2, n3 left out when negative), without making
 * the string: the tracing worker derives one per span. `kind` is a character code ("c", "s", "t").
 */
export function derivePartSpanId(
  digest: Uint8Array,
  kind: number,
  n1: number,
  n2: number,
  n3: number,
  into: Uint8Array,
): void {
  seedLanes(digest);
  feed(kind);
  feedInteger(n1);
  if (n2 >= 0) {
    feed(DOT);
    feedInteger(n2);
    if (n3 >= 0) {
      feed(DOT);
      feedInteger(n3);
    }
  }
  finishLanes(into);
}

const DOT = 0x2e;
// The two lanes and the characters taken in, between seedLanes and finishLanes (one thread, no awaits).
let laneA = 0;
let laneB = 0;
let taken = 0;

function seedLanes(digest: Uint8Array): void {
  laneA = (digest[24] | (digest[25] << 8) | (digest[26] << 16) | (digest[27] << 24)) >>> 0;
  laneB = (digest[28] | (digest[29] << 8) | (digest[30] << 16) | (digest[31] << 24)) >>> 0;
  taken = 0;
}

function feed(c: number): void {
  laneA = Math.imul(laneA ^ c, 0x01000193);
  laneB = Math.imul(laneB ^ c ^ (laneA >>> 16), 0x5bd1e995);
  taken++;
}

/** An integer's decimal characters, as `${n}` writes them. */
function feedInteger(n: number): void {
  if (n < 0) {
    feed(0x2d); // "-"
    n = -n;
  }
  if (n >= 10) feedInteger(Math.floor(n / 10));
  feed(0x30 + (n % 10));
}

function finishLanes(into: Uint8Array): void {
  const a = avalanche(laneA ^ Math.imul(taken, 0x9e3779b9) ^ laneB);
  let b = avalanche(laneB ^ a);
  // An all-zero span id is invalid in W3C trace context; one in 2^64, but never write it.
  if (a === 0 && b === 0) b = 1;
  into[0] = a >>> 24;
  into[1] = a >>> 16;
  into[2] = a >>> 8;
  into[3] = a;
  into[4] = b >>> 24;
  into[5] = b >>> 16;
  into[6] = b >>> 8;
  into[7] = b;
}

/** MurmurHash3's 32-bit finalizer: every input bit flips each output bit with probability about 1/2. */
function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The W3C `traceparent` header value of a span context (`00-<trace id>-<span id>-<flags>`). */
export function formatTraceparent(spanContext: SpanContext): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/**
 * The W3C `traceparent` of a span by its ids (version 00). Written out rather than through the
 * propagator: the engine asks for one per outgoing call, and the format is fixed by the standard.
 */
export function traceparentOf(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}

/** Parse a W3C `traceparent` (and optional `tracestate`); undefined when it is not valid. */
export function parseTraceparent(traceparent: string, tracestate?: string): SpanContext | undefined {
  const carrier: Record<string, string> = { traceparent };
  if (tracestate) carrier.tracestate = tracestate;
  const ctx: Context = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
  return trace.getSpanContext(ctx);
}

// One-shot hashing (Node >= 20.12) is about twice as fast as createHash; @types/node 20 lacks it.
const oneShot = (
  crypto as unknown as { hash?: (algorithm: string, data: string, encoding: "buffer") => Buffer }
).hash;

/** One SHA-256 of the run id gives the run's ids: 16 bytes of trace id, 8 of root span id, 8 seeding the rest. */
function hashBytes(text: string): Buffer {
  return oneShot ? oneShot("sha256", text, "buffer") : crypto.createHash("sha256").update(text).digest();
}
