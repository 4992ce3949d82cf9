import { decodePayload } from "../core/payload.js";
import type {
  DefinitionRecord,
  OverlapPolicy,
  ScheduleRecord,
  TaskRecord,
  TaskStatus,
} from "../core/types.js";

/** Row shapes of tasks, schedules and definitions and their mapping to records; shared by the SQLite and Postgres stores. */
export interface TaskRow {
  task_id: string;
  queue: string;
  run_id: string;
  seq: number | string;
  name: string;
  input_json: string | null;
  priority: number;
  status: string;
  attempt: number;
  retry_json: string;
  available_at: number | string;
  lease_token: number | string;
  worker_id: string | null;
  lease_expires_at: number | string | null;
  schedule_to_start_at: number | string | null;
  start_to_close_ms: number | string;
  heartbeat_timeout_ms: number | string | null;
  traceparent: string | null;
  last_error_json: string | null;
  created_at: number | string;
  started_at: number | string | null;
  updated_at: number | string;
}

const num = (v: number | string | null): number | undefined => (v === null ? undefined : Number(v));

export function taskFromRow(r: TaskRow): TaskRecord {
  return {
    taskId: r.task_id,
    queue: r.queue,
    runId: r.run_id,
    seq: Number(r.seq),
    name: r.name,
    input: decodePayload(r.input_json),
    priority: Number(r.priority),
    status: r.status as TaskStatus,
    attempt: Number(r.attempt),
    retry: JSON.parse(r.retry_json),
    leaseToken: Number(r.lease_token),
    workerId: r.worker_id ?? undefined,
    leaseExpiresAt: num(r.lease_expires_at),
    availableAt: Number(r.available_at),
    scheduleToStartAt: num(r.schedule_to_start_at),
    startToCloseMs: Number(r.start_to_close_ms),
    heartbeatTimeoutMs: num(r.heartbeat_timeout_ms),
    traceparent: r.traceparent ?? undefined,
    lastError: r.last_error_json ? JSON.parse(r.last_error_json) : undefined,
    createdAt: Number(r.created_at),
    startedAt: num(r.started_at),
    updatedAt: Number(r.updated_at),
  };
}

export interface ScheduleRow {
  schedule_id: string;
  workflow: string;
  input_json: string | null;
  cron: string;
  timezone: string;
  overlap: string;
  catchup_window_ms: number | string;
  paused: number | boolean;
  next_fire_at: number | string | null;
  last_fire_at: number | string | null;
  last_run_id: string | null;
  buffered_fire_at: number | string | null;
  created_at: number | string;
  updated_at: number | string;
}

export function scheduleFromRow(r: ScheduleRow): ScheduleRecord {
  return {
    scheduleId: r.schedule_id,
    workflow: r.workflow,
    input: decodePayload(r.input_json),
    cron: r.cron,
    timezone: r.timezone,
    overlap: r.overlap as OverlapPolicy,
    catchupWindowMs: Number(r.catchup_window_ms),
    paused: Boolean(r.paused),
    nextFireAt: num(r.next_fire_at),
    lastFireAt: num(r.last_fire_at),
    lastRunId: r.last_run_id ?? undefined,
    bufferedFireAt: num(r.buffered_fire_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export interface DefinitionRow {
  name: string;
  version: number | string;
  format: string;
  source: string;
  checksum: string;
  created_at: number | string;
}

export function definitionFromRow(r: DefinitionRow): DefinitionRecord {
  return {
    name: r.name,
    version: Number(r.version),
    format: r.format as DefinitionRecord["format"],
    source: r.source,
    checksum: r.checksum,
    createdAt: Number(r.created_at),
  };
}
