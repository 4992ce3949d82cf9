import { existsSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { DirigentClient } from "../client/client.js";
import { LocalClient } from "../client/local-client.js";
import { DirigentError, isDirigentError } from "../core/errors.js";
import { createEngine, type Engine } from "../runtime/engine.js";
import type { WorkflowDefinition } from "../runtime/workflow.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { type IdleOutcome, runUntilIdle } from "./idle.js";

export interface LocalSessionOptions {
  databasePath: string;
  /** Given: the engine executes runs of these workflows. Absent: a client-only engine that never executes. */
  workflows?: WorkflowDefinition[];
  /**
   * Whether the engine executes runs of `workflows` (default: when workflows are given). false with
   * workflows: the workflows are known (to start runs, create schedules) but left for a later command.
   */
  execute?: boolean;
  /** Let Ctrl-C end the command's waits even when the session does not execute (following a run). */
  interruptible?: boolean;
  /** Called with engine errors worth telling the user (they go to stderr, never stdout). */
  onWarning?: (message: string) => void;
}

/** A database opened by the CLI in this process: a client over an engine over a SQLite store. */
export interface LocalSession {
  readonly client: DirigentClient;
  readonly engine: Engine;
  readonly executing: boolean;
  /** Aborted by Ctrl-C or SIGTERM while an executing session is open: waits end early, the engine stops cleanly. */
  readonly interrupted: AbortSignal;
  /** Keep executing until no run can make progress before `waitMs` passes (see runUntilIdle). */
  runUntilIdle(waitMs: number): Promise<IdleOutcome>;
  /** Stop the engine: in-flight runs get a grace period, then are released for the next process. */
  stop(): Promise<void>;
  /** Stop the engine and close the database. */
  close(): Promise<void>;
}

/**
 * Open the local database. Sessions without workflows refuse a database file that does not exist (a
 * mistyped --db should not create an empty database); sessions with workflows create it and its folder.
 */
export async function openLocal(options: LocalSessionOptions): Promise<LocalSession> {
  const { databasePath, workflows, onWarning } = options;
  const executing = options.execute ?? workflows !== undefined;
  if (workflows === undefined && databasePath !== ":memory:" && !existsSync(databasePath)) {
    throw new DirigentError("INVALID_ARGUMENT", `database file "${databasePath}" does not exist`, {
      databasePath,
    });
  }
  let store: SqliteStore;
  try {
    if (workflows !== undefined && databasePath !== ":memory:")
      mkdirSync(dirname(databasePath), { recursive: true });
    store = new SqliteStore({ path: databasePath });
  } catch (error) {
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `cannot open database "${databasePath}": ${(error as Error).message}`,
    );
  }
  const engine = createEngine({
    store,
    workflows: workflows ?? [],
    execute: executing,
    nodeId: `cli-${hostname()}-${process.pid}`,
  });
  const offError = engine.events.on("engine:error", ({ error, context }) => {
    const message = isDirigentError(error) ? `${error.code}: ${error.message}` : (error as Error)?.message;
    onWarning?.(`${context}: ${message ?? String(error)}`);
  });
  try {
    await engine.start();
  } catch (error) {
    offError();
    await engine.stop().catch(() => {});
    await store.close();
    if (isDirigentError(error)) throw error;
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `cannot open database "${databasePath}": ${(error as Error).message}`,
    );
  }

  const interrupt = new AbortController();
  // Ctrl-C (or SIGTERM) ends the wait and stops the engine cleanly; a second one kills as usual.
  const onSignal = () => interrupt.abort();
  if (executing || options.interruptible) {
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= engine.stop();
    return stopped;
  };
  let closed = false;
  return {
    client: new LocalClient(engine),
    engine,
    executing,
    interrupted: interrupt.signal,
    runUntilIdle: (waitMs) => runUntilIdle(engine, { waitMs, signal: interrupt.signal }),
    stop,
    async close() {
      if (closed) return;
      closed = true;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      try {
        await stop();
      } finally {
        offError();
        await store.close();
      }
    },
  };
}
