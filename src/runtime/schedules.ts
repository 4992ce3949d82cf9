import { Cron } from "croner";
import type { Clock } from "../core/clock.js";
import { DirigentError } from "../core/errors.js";
import {
  isTerminalStatus,
  OVERLAP_POLICIES,
  type OverlapPolicy,
  type ScheduleRecord,
} from "../core/types.js";
import type { Store, WriteResult } from "../store/store.js";
import type { WriteBatcher } from "./write-batcher.js";

export interface ScheduleSpec {
  scheduleId: string;
  /** Five or six field cron expression (croner syntax), evaluated in `timezone`. */
  cron: string;
  timezone?: string;
  workflow: string;
  input?: unknown;
  /** What to do when a fire comes while the previous run is still going. Default "skip". */
  overlap?: OverlapPolicy;
  /** Fires missed while no node was running are made up only if at most this old. Default 60 s. */
  catchupWindowMs?: number;
  paused?: boolean;
}

export interface SchedulesHost {
  readonly store: Store;
  readonly batcher: WriteBatcher;
  readonly clock: Clock;
  hasWorkflow(name: string): boolean;
  /** A schedule that could not fire (reported, then left for the next tick or another node). */
  onError?(error: unknown, scheduleId: string): void;
  /** Start a run with a deterministic id: starting an id that exists returns it, so a fire is never doubled. */
  startRun(workflow: string, input: unknown, runId: string): Promise<unknown>;
}

const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
/** Upper bound of fire times computed in one catch-up, so a tiny interval after long downtime stays cheap. */
const MAX_CATCHUP_FIRES = 1_000;

/**
 * Durable cron schedules. Each due time starts a run whose id is `<scheduleId>@<ISO time>`, so however
 * many nodes see the same due time, one run starts; the schedule's next fire time is then advanced
 * with compare-and-set.
 */
export class Schedules {
  constructor(private readonly host: SchedulesHost) {}

  async create(spec: ScheduleSpec): Promise<ScheduleRecord> {
    if (typeof spec?.scheduleId !== "string" || !SCHEDULE_ID.test(spec.scheduleId)) {
      throw new DirigentError(
        "INVALID_ARGUMENT",
        "scheduleId must be 1-100 characters of letters, digits, . _ : -",
      );
    }
    if (!this.host.hasWorkflow(spec.workflow)) {
      throw new DirigentError("WORKFLOW_NOT_FOUND", `workflow "${spec.workflow}" is not registered`);
    }
    const overlap = spec.overlap ?? "skip";
    if (!OVERLAP_POLICIES.includes(overlap)) {
      throw new DirigentError("INVALID_ARGUMENT", `overlap must be one of ${OVERLAP_POLICIES.join(", ")}`);
    }
    const catchupWindowMs = spec.catchupWindowMs ?? 60_000;
    if (!Number.isInteger(catchupWindowMs) || catchupWindowMs < 0) {
      throw new DirigentError("INVALID_ARGUMENT", "catchupWindowMs must be an integer >= 0");
    }
    const timezone = spec.timezone ?? "UTC";
    const now = this.host.clock.now();
    const paused = spec.paused ?? false;
    // Computed even when paused, to refuse a bad expression now; a paused schedule has no next fire.
    const firstFire = nextFire(spec.cron, timezone, now);
    const nextFireAt = paused ? undefined : firstFire;
    const schedule: ScheduleRecord = {
      scheduleId: spec.scheduleId,
      workflow: spec.workflow,
      input: spec.input,
      cron: spec.cron,
      timezone,
      overlap,
      catchupWindowMs,
      paused,
      nextFireAt,
      createdAt: now,
      updatedAt: now,
    };
    const r = await this.host.batcher.submit({ type: "createSchedule", schedule });
    if (!r.ok) {
      throw new DirigentError("SCHEDULE_ALREADY_EXISTS", `schedule "${spec.scheduleId}" already exists`);
    }
    return schedule;
  }

  async get(scheduleId: string): Promise<ScheduleRecord> {
    const s = await this.host.store.getSchedule(scheduleId);
    if (!s) throw notFound(scheduleId);
    return s;
  }

  list(): Promise<ScheduleRecord[]> {
    return this.host.store.listSchedules();
  }

  async pause(scheduleId: string): Promise<void> {
    const r = await this.host.batcher.submit({
      type: "setSchedulePaused",
      scheduleId,
      paused: true,
      now: this.host.clock.now(),
    });
    check(r, scheduleId);
  }

  /** Resume from now on: fires that fell in the pause are not made up. */
  async resume(scheduleId: string): Promise<void> {
    const s = await this.get(scheduleId);
    const now = this.host.clock.now();
    const nextFireAt = nextFire(s.cron, s.timezone, now);
    const r = await this.host.batcher.submit({
      type: "setSchedulePaused",
      scheduleId,
      paused: false,
      nextFireAt,
      now,
    });
    check(r, scheduleId);
  }

  async delete(scheduleId: string): Promise<void> {
    check(await this.host.batcher.submit({ type: "deleteSchedule", scheduleId }), scheduleId);
  }

  /**
   * Start a run now, outside the cron rhythm (the schedule's fire times are unchanged). The run becomes
   * the schedule's last run, as a timed fire's does, so the overlap policy waits for it too.
   */
  async trigger(scheduleId: string): Promise<{ runId: string }> {
    let s: ScheduleRecord | undefined = await this.get(scheduleId);
    const now = this.host.clock.now();
    const runId = `${s.scheduleId}@manual-${new Date(now).toISOString()}`;
    await this.host.startRun(s.workflow, s.input, runId);
    // Compare-and-set with the fire times unchanged; a tick that advanced them meanwhile makes it stale,
    // so read again and retry (a few times: ticks are rare next to this).
    for (let attempt = 0; s && attempt < 5; attempt++) {
      const r = await this.host.batcher.submit({
        type: "advanceSchedule",
        scheduleId,
        expectedNextFireAt: s.nextFireAt ?? null,
        expectedBufferedFireAt: s.bufferedFireAt ?? null,
        nextFireAt: s.nextFireAt ?? null,
        bufferedFireAt: s.bufferedFireAt ?? null,
        lastFireAt: now,
        lastRunId: runId,
        now,
      });
      if (r.ok) break;
      s = await this.host.store.getSchedule(scheduleId); // deleted meanwhile: the run started anyway
    }
    return { runId };
  }

  /** Fire every due schedule. Called by the engine's claim loop; returns how many runs it started. */
  async tick(): Promise<number> {
    const now = this.host.clock.now();
    let started = 0;
    for (const s of await this.host.store.dueSchedules({ now, limit: 100 })) {
      try {
        started += await this.fire(s, now);
      } catch (error) {
        // Left for the next tick, or for a node that has the workflow; reported so it is not silent.
        this.host.onError?.(error, s.scheduleId);
      }
    }
    return started;
  }

  private async fire(s: ScheduleRecord, now: number): Promise<number> {
    const due: number[] = [];
    let next = s.nextFireAt;
    while (next !== undefined && next <= now && due.length < MAX_CATCHUP_FIRES) {
      due.push(next);
      next = nextFire(s.cron, s.timezone, next);
    }
    while (next !== undefined && next <= now) next = nextFire(s.cron, s.timezone, now);
    const inWindow = due.filter((t) => t >= now - s.catchupWindowMs);
    const latest = inWindow[inWindow.length - 1];
    const running = s.lastRunId ? await this.isRunning(s.lastRunId) : false;

    const toStart: number[] = [];
    let buffered = s.bufferedFireAt ?? null;
    if (s.overlap === "allow_all") toStart.push(...inWindow);
    else if (!running) {
      // skip and buffer_one start the buffered fire, or the most recent due one (missed fires collapse).
      const pick = latest ?? buffered ?? undefined;
      if (pick !== undefined) toStart.push(pick);
      buffered = null;
    } else if (s.overlap === "buffer_one" && latest !== undefined) {
      buffered = latest;
    }

    let lastRunId: string | undefined;
    for (const t of toStart) {
      lastRunId = `${s.scheduleId}@${new Date(t).toISOString()}`;
      await this.host.startRun(s.workflow, s.input, lastRunId);
    }
    await this.host.batcher.submit({
      type: "advanceSchedule",
      scheduleId: s.scheduleId,
      expectedNextFireAt: s.nextFireAt ?? null,
      expectedBufferedFireAt: s.bufferedFireAt ?? null,
      nextFireAt: next ?? null,
      bufferedFireAt: buffered,
      lastFireAt: toStart.length ? toStart[toStart.length - 1] : undefined,
      lastRunId,
      now,
    });
    return toStart.length;
  }

  private async isRunning(runId: string): Promise<boolean> {
    const run = await this.host.store.getRun(runId);
    return run !== undefined && !isTerminalStatus(run.status);
  }
}

/** The first fire strictly after `afterMs`, or undefined if the expression never fires again. */
export function nextFire(cron: string, timezone: string, afterMs: number): number | undefined {
  // croner reports a bad expression when built and a bad time zone only when asked for a date.
  try {
    const job = new Cron(cron, { timezone, paused: true });
    const next = job.nextRun(new Date(afterMs));
    job.stop();
    return next ? next.getTime() : undefined;
  } catch (err) {
    throw new DirigentError(
      "INVALID_CRON",
      `invalid cron "${cron}" (timezone ${timezone}): ${(err as Error).message}`,
    );
  }
}

function notFound(scheduleId: string) {
  return new DirigentError("SCHEDULE_NOT_FOUND", `schedule "${scheduleId}" not found`, { scheduleId });
}

function check(r: WriteResult, scheduleId: string): void {
  if (!r.ok) throw notFound(scheduleId);
}
