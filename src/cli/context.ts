import type { DatabaseTarget } from "../server/database.js";
import { resolveAddress, resolveDatabase } from "./config.js";
import { UsageError } from "./errors.js";
import { loadWorkflowModule } from "./module-loader.js";
import type { Output } from "./output.js";
import { openLocalSession, openRemote, type Session, type SessionMode } from "./session.js";

/** The global options every command sees. */
export interface GlobalOptions {
  db?: string;
  databaseUrl?: string;
  module?: string;
  address?: string;
  output?: string;
}

/**
 * What a session must be able to do. read: look and change runs without executing them; execute:
 * runs make progress during the command (local mode: this process executes --module's workflows);
 * register: the workflows are known (to start runs or create schedules) without being executed here.
 */
export type SessionNeed = "read" | "execute" | "register";

/** What a command's action gets: where to print, and how to reach the runs (a database or a server). */
export class CliContext {
  /** Set when Ctrl-C ended a session early (the command then exits with 130). */
  interrupted = false;
  /** Set by a command whose result is a failure without being an error (a run that failed): exit 1. */
  exitCode?: number;

  constructor(
    readonly out: Output,
    readonly globals: GlobalOptions,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** The --db or --database-url flag (they mean the same). */
  get databaseOption(): string | undefined {
    const { db, databaseUrl } = this.globals;
    if (db !== undefined && databaseUrl !== undefined) {
      throw new UsageError("--db and --database-url name the same thing: give one");
    }
    return db ?? databaseUrl;
  }

  /** The server of remote mode (--address or DIRIGENT_ADDRESS), undefined in local mode. */
  get address(): string | undefined {
    const local = this.databaseOption !== undefined || this.globals.module !== undefined;
    return resolveAddress(this.globals.address, local, this.env);
  }

  get mode(): SessionMode {
    return this.address === undefined ? "local" : "remote";
  }

  /** The database of local mode: a SQLite file or a PostgreSQL URL. */
  get database(): DatabaseTarget {
    return resolveDatabase(this.databaseOption, this.env);
  }

  /**
   * Run `fn` in a session on the server or on the local database; always closes it (stopping the
   * local engine), also when `fn` throws. Local sessions that execute or register need --module.
   */
  async withSession<T>(
    need: SessionNeed,
    verb: string,
    fn: (session: Session) => Promise<T>,
    options: { interruptible?: boolean } = {},
  ): Promise<T> {
    const address = this.address;
    const onWarning = (message: string) => this.out.warn(message);
    let session: Session;
    if (address !== undefined) {
      session = await openRemote(address, { ...options, onWarning });
    } else {
      const database = this.database;
      let workflows: Awaited<ReturnType<typeof loadWorkflowModule>> | undefined;
      if (need !== "read") {
        if (!this.globals.module) {
          const what = need === "execute" ? "executes runs in this process and needs" : "needs";
          throw new UsageError(
            `"${verb}" ${what} --module <file> exporting the workflows (or --address <server> to use a server)`,
          );
        }
        workflows = await loadWorkflowModule(this.globals.module);
      }
      session = await openLocalSession(database, workflows, need === "execute", {
        ...options,
        onWarning,
      });
    }
    try {
      return await fn(session);
    } finally {
      if (session.interrupted.aborted) this.interrupted = true;
      await session.close();
    }
  }
}
