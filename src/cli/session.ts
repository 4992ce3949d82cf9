// One client API under both modes: every verb is written once against a Session, whose client is a
// LocalClient over a database opened in this process, or an HttpClient talking to a server.
import { setTimeout as delay } from "node:timers/promises";
import type { DirigentClient } from "../client/client.js";
import { DirigentError } from "../core/errors.js";
import { isTerminalStatus, type RunRecord } from "../core/types.js";
import type { WorkflowDefinition } from "../runtime/workflow.js";
import type { DatabaseTarget } from "../server/database.js";
import { type IdleOutcome, runUntilIdle } from "./idle.js";

export type SessionMode = "local" | "remote";

export interface Session {
  readonly client: DirigentClient;
  readonly mode: SessionMode;
  /** This process executes runs (local mode with --module); otherwise a server (or nobody) does. */
  readonly executing: boolean;
  /** Aborted by Ctrl-C or SIGTERM during an executing or interruptible session: waits end early. */
  readonly interrupted: AbortSignal;
  /** How often to look again when following a run. */
  readonly pollMs: number;
  /**
   * Let runs make progress before reporting. A local executing session executes until no run can move
   * before `waitMs` passes, then stops its engine (so what is read next is what the database holds);
   * elsewhere the server executes, and this returns undefined at once.
   */
  settle(waitMs: number): Promise<IdleOutcome | undefined>;
  /**
   * Local executing session: resolves when no run can make progress before `waitMs` passes (or when
   * `signal` or Ctrl-C ends the watch); undefined where this process does not execute.
   */
  whenIdle(waitMs: number, signal?: AbortSignal): Promise<IdleOutcome> | undefined;
  close(): Promise<void>;
}

export interface SessionOptions {
  /** Keep Ctrl-C for ending waits (following a run) instead of killing the process at once. */
  interruptible?: boolean;
  onWarning?: (message: string) => void;
}

/** A session on a server: the server executes, this process only asks. */
export async function openRemote(address: string, options: SessionOptions = {}): Promise<Session> {
  const { HttpClient } = await import("../client/http-client.js");
  const client = new HttpClient({ address });
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  if (options.interruptible) {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  let closed = false;
  return {
    client,
    mode: "remote",
    executing: false,
    interrupted: interrupt.signal,
    pollMs: 200,
    settle: async () => undefined,
    whenIdle: () => undefined,
    async close() {
      if (closed) return;
      closed = true;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await client.close();
    },
  };
}

/** A session on a local database (SQLite or PostgreSQL), executing `workflows` when `execute` is true. */
export async function openLocalSession(
  database: DatabaseTarget,
  workflows: WorkflowDefinition[] | undefined,
  execute: boolean,
  options: SessionOptions = {},
): Promise<Session> {
  // Loaded on demand: remote commands never load SQLite or the engine.
  const { openLocal } = await import("./local.js");
  const local = await openLocal({
    database,
    workflows,
    execute,
    interruptible: options.interruptible,
    onWarning: options.onWarning,
  });
  return {
    client: local.client,
    mode: "local",
    executing: local.executing,
    interrupted: local.interrupted,
    pollMs: 50,
    async settle(waitMs) {
      if (!local.executing) return undefined;
      const outcome = await local.runUntilIdle(waitMs);
      await local.stop();
      return outcome;
    },
    whenIdle: (waitMs, signal) =>
      local.executing
        ? runUntilIdle(local.engine, {
            waitMs,
            signal: signal ? AbortSignal.any([local.interrupted, signal]) : local.interrupted,
          })
        : undefined,
    close: () => local.close(),
  };
}

/**
 * Wait until a run is final. Polls (a short long-poll on a server) rather than holding one long wait,
 * so Ctrl-C or the deadline end the wait at once and leave nothing pending. RESULT_TIMEOUT otherwise.
 */
export async function waitForFinal(session: Session, runId: string, waitMs: number): Promise<RunRecord> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = Math.max(0, deadline - Date.now());
    const run =
      session.mode === "remote" && left > 0 && !session.interrupted.aborted
        ? await longPoll(session.client, runId, Math.min(left, 1_000))
        : await session.client.describe(runId);
    if (isTerminalStatus(run.status)) return run;
    if (session.interrupted.aborted || Date.now() >= deadline) {
      const why = session.interrupted.aborted ? "was interrupted" : `did not finish within ${waitMs} ms`;
      throw new DirigentError("RESULT_TIMEOUT", `run "${runId}" ${why} (it is ${run.status})`, {
        runId,
        status: run.status,
      });
    }
    if (session.mode === "local") {
      await delay(Math.max(1, Math.min(20, deadline - Date.now())), undefined, {
        signal: session.interrupted,
      }).catch(() => {});
    }
  }
}

/** The run once final, or as it is after `timeoutMs`. */
async function longPoll(client: DirigentClient, runId: string, timeoutMs: number): Promise<RunRecord> {
  try {
    return await client.result(runId, { timeoutMs });
  } catch (error) {
    if ((error as DirigentError).code === "RESULT_TIMEOUT") return client.describe(runId);
    throw error;
  }
}
