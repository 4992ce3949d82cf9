// The API's records. These are type-only imports of the engine's own domain types (the OpenAPI document
// is generated from schemas that mirror them), so a change there breaks the dashboard's type check
// instead of its pages. Nothing here reaches the bundle: the dashboard talks to the server over HTTP only.
import type { HistoryEvent, RunHistory } from "../../../src/core/history.js";
import type {
  AttemptRecord,
  EntryKind,
  EntryStatus,
  ErrorInfo,
  JournalEntry,
  QueueInfo,
  RunRecord,
  RunStats,
  RunStatus,
  ScheduleRecord,
  SignalRecord,
} from "../../../src/core/types.js";
import type { AlertsView, AlertView } from "../../../src/observability/alerts/alerts.js";
import type { AlertRule } from "../../../src/observability/alerts/rules.js";

export type {
  AlertRule,
  AlertsView,
  AlertView,
  AttemptRecord,
  EntryKind,
  EntryStatus,
  ErrorInfo,
  HistoryEvent,
  JournalEntry,
  QueueInfo,
  RunHistory,
  RunRecord,
  RunStats,
  RunStatus,
  ScheduleRecord,
  SignalRecord,
};

export const RUN_STATUSES: readonly RunStatus[] = [
  "pending",
  "running",
  "waiting",
  "completed",
  "failed",
  "cancelled",
  "terminated",
];

export const FINAL_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled", "terminated"];

export function isFinal(status: RunStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export interface RunPage {
  runs: RunRecord[];
  nextCursor?: string;
}

export interface WorkflowInfo {
  name: string;
  versions: string[];
  latest: string;
}

export interface StartResult {
  runId: string;
  created: boolean;
  workflow: string;
  version: string;
}

/** A DSL definition drawn as a graph (src/dsl/graph.ts). */
export interface DefinitionGraph {
  name?: string;
  nodes: { id: string; kind: string; label: string }[];
  edges: { from: string; to: string; label?: string }[];
}

/** A deployed DSL definition version, as the definitions API may return it. */
export interface DefinitionInfo {
  name: string;
  version: number;
  format?: "yaml" | "json";
  source?: string;
  checksum?: string;
  createdAt?: number;
  graph?: DefinitionGraph;
}

/** Body of POST /api/v1/schedules (src/runtime/schedules.ts ScheduleSpec). */
export interface ScheduleSpec {
  scheduleId: string;
  cron: string;
  timezone?: string;
  workflow: string;
  input?: unknown;
  overlap?: "skip" | "buffer_one" | "allow_all";
  catchupWindowMs?: number;
  paused?: boolean;
}

/** The live feed's event types (GET /api/v1/events). */
export const LIVE_EVENT_TYPES = [
  "run:created",
  "run:claimed",
  "run:suspended",
  "run:finished",
  "step:completed",
  "step:retrying",
  "step:failed",
] as const;
export type LiveEventType = (typeof LIVE_EVENT_TYPES)[number];

export interface LiveEvent {
  type: LiveEventType;
  runId?: string;
  workflow?: string;
  status?: RunStatus;
}
