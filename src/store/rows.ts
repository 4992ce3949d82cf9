import { decodePayload } from "../core/payload.js";
import type { AttemptRecord, JournalEntry, RunRecord, RunStatus, SignalRecord } from "../core/types.js";

/**
 * Row shapes as the stores read them, and their mapping to domain records. Shared by the SQLite and
 * PostgreSQL stores: integers may arrive as numbers or numeric strings (BIGINT), so every one is Number()ed.
 */
export interface RunRow {
  run_id: string;
  workflow: string;
  version: string;
  status: string;
  input_json: string | null;
  output_json: string | null;
  error_json: string | null;
  parent_run_id: string | null;
  parent_seq: number | null;
  owner: string | null;
  fence: number;
  lease_expires_at: number | null;
  wake_at: number | null;
  cancel_requested: number | boolean;
  deadline_at: number | null;
  created_at: number;
  started_at: number | null;
  updated_at: number;
  completed_at: number | null;
}

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
const num = (v: number | string | null): number | undefined => (v === null ? undefined : Number(v));

export function runFromRow(r: RunRow): RunRecord {
  return {
    runId: r.run_id,
    workflow: r.workflow,
    version: r.version,
    status: r.status as RunStatus,
    input: decodePayload(r.input_json),
    output: decodePayload(r.output_json),
    error: decodePayload(r.error_json) as RunRecord["error"],
    parentRunId: opt(r.parent_run_id),
    parentSeq: num(r.parent_seq),
    owner: opt(r.owner),
    fence: Number(r.fence),
    leaseExpiresAt: num(r.lease_expires_at),
    wakeAt: num(r.wake_at),
    cancelRequested: Boolean(r.cancel_requested),
    deadlineAt: num(r.deadline_at),
    createdAt: Number(r.created_at),
    startedAt: num(r.started_at),
    updatedAt: Number(r.updated_at),
    completedAt: num(r.completed_at),
  };
}

export interface JournalRow {
  run_id: string;
  seq: number;
  kind: string;
  name: string;
  status: string;
  attempt: number;
  result_json: string | null;
  error_json: string | null;
  wake_at: number | null;
  detail_json: string | null;
  started_at: number;
  updated_at: number;
}

export function entryFromRow(r: JournalRow): JournalEntry {
  const entry: JournalEntry = {
    seq: Number(r.seq),
    kind: r.kind as JournalEntry["kind"],
    name: r.name,
    status: r.status as JournalEntry["status"],
    attempt: Number(r.attempt),
    startedAt: Number(r.started_at),
    updatedAt: Number(r.updated_at),
  };
  if (r.result_json !== null) entry.result = JSON.parse(r.result_json);
  if (r.error_json !== null) entry.error = JSON.parse(r.error_json);
  if (r.wake_at !== null) entry.wakeAt = Number(r.wake_at);
  if (r.detail_json !== null) entry.detail = JSON.parse(r.detail_json);
  return entry;
}

export interface AttemptRow {
  run_id: string;
  seq: number;
  attempt: number;
  started_at: number;
  ended_at: number;
  error_json: string;
  node: string | null;
}

export function attemptFromRow(r: AttemptRow): AttemptRecord {
  return {
    runId: r.run_id,
    seq: Number(r.seq),
    attempt: Number(r.attempt),
    startedAt: Number(r.started_at),
    endedAt: Number(r.ended_at),
    error: JSON.parse(r.error_json),
    node: opt(r.node),
  };
}

export interface SignalRow {
  id: number;
  run_id: string;
  name: string;
  payload_json: string | null;
  received_at: number;
  consumed_seq: number | null;
}

export function signalFromRow(r: SignalRow): SignalRecord {
  return {
    id: Number(r.id),
    runId: r.run_id,
    name: r.name,
    payload: decodePayload(r.payload_json),
    receivedAt: Number(r.received_at),
    consumedSeq: num(r.consumed_seq),
  };
}

/** Opaque list cursor: the (createdAt, runId) of the last row of the previous page. */
export function encodeCursor(createdAt: number, runId: string): string {
  return Buffer.from(JSON.stringify([createdAt, runId])).toString("base64url");
}

export function decodeCursor(cursor: string): [number, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(v) && typeof v[0] === "number" && typeof v[1] === "string") return [v[0], v[1]];
  } catch {
    // fall through: an unreadable cursor is reported by the caller
  }
  return undefined;
}
