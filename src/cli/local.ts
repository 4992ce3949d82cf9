import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type { DirigentClient } from "../client/client.js";
import { LocalClient } from "../client/local-client.js";
import { DirigentError, isDirigentError } from "../core/errors.js";
import { createEngine, type Engine } from "../runtime/engine.js";
import type { WorkflowDefinition } from "../runtime/workflow.js";
import { type DatabaseTarget, describeDatabase, openStore } from "../server/database.js";
import type { Store } from "../store/store.js";
import { type IdleOutcome, runUntilIdle } from "./idle.js";

export interface LocalSessionOptions {
  /** A SQLite file or a PostgreSQL database (its store is loaded only when named). */
  database: DatabaseTarget;
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

/** A database opened by the CLI in this process: a client over an engine over its store. */
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
 * Open the local database. Sessions without workflows refuse a SQLite file that does not exist, and a
 * PostgreSQL `?schema=` that does not exist (a mistyped --db should not create an empty database);
 * sessions with workflows create them (a SQLite file with its folder). A PostgreSQL database is reached
 * when the engine starts (migrating its schema): an unreachable or refusing server fails here with
 * INVALID_ARGUMENT naming the database (without its password).
 */
export async function openLocal(options: LocalSessionOptions): Promise<LocalSession> {
  const { database, workflows, onWarning } = options;
  const executing = options.execute ?? workflows !== undefined;
  const name = describeDatabase(database);
  // A database that cannot be opened is a bad --db for the CLI: INVALID_ARGUMENT, as ever. The store's
  // own INVALID_OPTIONS (a bad ?schema=, an unopenable file) is recoded; other Dirigent errors pass.
  const cannotOpen = (error: unknown) => {
    if (!isDirigentError(error)) {
      return new DirigentError("INVALID_ARGUMENT", `cannot open database "${name}": ${messageOf(error)}`, {
        database: name,
      });
    }
    if (error.code !== "INVALID_OPTIONS") return error;
    const details = error.details as { schema?: string; reason?: string } | undefined;
    if (details?.reason === "schema-missing") {
      return new DirigentError(
        "INVALID_ARGUMENT",
        `schema "${details.schema}" does not exist in database "${name}"`,
        { database: name, schema: details.schema },
      );
    }
    return new DirigentError("INVALID_ARGUMENT", error.message, error.details);
  };
  if (
    database.kind === "sqlite" &&
    workflows === undefined &&
    database.path !== ":memory:" &&
    !existsSync(database.path)
  ) {
    throw new DirigentError("INVALID_ARGUMENT", `database file "${database.path}" does not exist`, {
      databasePath: database.path,
    });
  }
  let store: Store;
  try {
    store = await openStore(database, { createSchema: workflows !== undefined });
  } catch (error) {
    throw cannotOpen(error);
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
    await store.close().catch(() => {});
    throw cannotOpen(error);
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

/** An error's message; a refused connection (Node's AggregateError, one error per address) has none. */
function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const first = error.errors[0] as Error & { code?: string };
    return first.message || first.code || String(first);
  }
  const e = error as Error & { code?: string };
  return e?.message || e?.code || String(error);
}
