import { z } from "zod";
import type { Clock } from "../core/clock.js";
import { DirigentError } from "../core/errors.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../core/payload.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, resolveRetryPolicy } from "../core/retry.js";
import type { Store } from "../store/store.js";
import type { OutgoingCall } from "./events.js";
import { systemClock } from "./system-clock.js";
import type { WorkflowDefinition } from "./workflow.js";

export interface EngineOptions {
  /** Where runs live (SqliteStore, PostgresStore). The caller owns it and closes it. */
  store: Store;
  workflows?: WorkflowDefinition[];
  /** This engine's name in leases and attempts; defaults to a random id. */
  nodeId?: string;
  clock?: Clock;
  /** How long a claim lasts without renewal; a dead node's runs are taken over after this. */
  leaseMs?: number;
  /** Fallback poll for due runs (other nodes' timers, expired leases), on top of in-process wake-ups. */
  pollIntervalMs?: number;
  /** Runs executing at once on this engine (holding a lease). */
  maxConcurrentRuns?: number;
  /** Suspended runs kept in memory so a resume needs no replay; older ones are dropped and replayed. */
  maxCachedRuns?: number;
  /** Largest input, output, step result or signal payload, as JSON bytes. */
  maxPayloadBytes?: number;
  /** Default retry policy of steps. */
  defaultRetry?: Partial<RetryPolicy>;
  /** Randomness for retry jitter (tests pass a fixed function). */
  random?: () => number;
  /** Whether start() claims and executes runs (false: a client-only engine that only reads and writes). */
  execute?: boolean;
  /**
   * W3C traceparent for a step's outgoing HTTP call or queued task (tracing supplies it), so one trace
   * covers the run and the services it calls. A throw is reported on `engine:error` and ignored.
   */
  traceparent?: (call: OutgoingCall) => string | undefined;
}

const schema = z
  .object({
    store: z.custom<Store>(
      (v) => typeof v === "object" && v !== null && typeof (v as Store).write === "function",
      {
        message: "must be a Store",
      },
    ),
    workflows: z.array(z.custom<WorkflowDefinition>((v) => typeof (v as any)?.fn === "function")).default([]),
    nodeId: z.string().min(1).max(200).optional(),
    clock: z.custom<Clock>((v) => typeof (v as any)?.now === "function").default(systemClock),
    leaseMs: z.number().int().min(100).default(30_000),
    pollIntervalMs: z.number().int().min(10).default(1_000),
    maxConcurrentRuns: z.number().int().min(1).default(1_000),
    maxCachedRuns: z.number().int().min(0).default(1_000),
    maxPayloadBytes: z.number().int().min(1_024).default(DEFAULT_MAX_PAYLOAD_BYTES),
    defaultRetry: z.record(z.string(), z.number()).optional(),
    random: z.custom<() => number>((v) => typeof v === "function").default(() => Math.random),
    execute: z.boolean().default(true),
    traceparent: z
      .custom<(call: OutgoingCall) => string | undefined>((v) => typeof v === "function")
      .optional(),
  })
  .strict();

export interface ResolvedOptions
  extends Required<Omit<EngineOptions, "defaultRetry" | "nodeId" | "traceparent">> {
  nodeId?: string;
  traceparent?: (call: OutgoingCall) => string | undefined;
  defaultRetry: RetryPolicy;
}

/** Validate once; unknown keys and bad values are refused with INVALID_OPTIONS naming the key. */
export function resolveEngineOptions(options: EngineOptions): ResolvedOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`);
    throw new DirigentError("INVALID_OPTIONS", `invalid engine options: ${issues.join("; ")}`, { issues });
  }
  const o = parsed.data;
  return {
    ...o,
    random: o.random,
    defaultRetry: resolveRetryPolicy(
      o.defaultRetry as Partial<RetryPolicy> | undefined,
      DEFAULT_RETRY_POLICY,
    ),
  } as ResolvedOptions;
}
