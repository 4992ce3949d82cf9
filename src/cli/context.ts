import { resolveDatabasePath } from "./config.js";
import { UsageError } from "./errors.js";
import { type LocalSession, openLocal } from "./local.js";
import { loadWorkflowModule } from "./module-loader.js";
import type { Output } from "./output.js";

/** The global options every command sees. */
export interface GlobalOptions {
  db?: string;
  module?: string;
  output?: string;
}

/** What a command's action gets: where to print, and how to open the local database. */
export class CliContext {
  readonly databasePath: string;
  /** Set when Ctrl-C ended an executing session early (the command then exits with 130). */
  interrupted = false;

  constructor(
    readonly out: Output,
    readonly globals: GlobalOptions,
    env: NodeJS.ProcessEnv,
  ) {
    this.databasePath = resolveDatabasePath(globals.db, env);
  }

  /** Run `fn` against a client-only engine (no --module needed); always closes the database. */
  withReader<T>(fn: (session: LocalSession) => Promise<T>): Promise<T> {
    return this.with(undefined, fn);
  }

  /**
   * Run `fn` against an engine that executes the workflows of --module; always stops the engine and
   * closes the database, also when `fn` throws.
   */
  async withExecutor<T>(verb: string, fn: (session: LocalSession) => Promise<T>): Promise<T> {
    if (!this.globals.module) {
      throw new UsageError(
        `"workflow ${verb}" executes runs in this process and needs --module <file> exporting the workflows`,
      );
    }
    const workflows = await loadWorkflowModule(this.globals.module);
    return this.with(workflows, fn);
  }

  private async with<T>(
    workflows: Awaited<ReturnType<typeof loadWorkflowModule>> | undefined,
    fn: (session: LocalSession) => Promise<T>,
  ): Promise<T> {
    const session = await openLocal({
      databasePath: this.databasePath,
      workflows,
      onWarning: (message) => this.out.warn(message),
    });
    try {
      return await fn(session);
    } finally {
      if (session.interrupted.aborted) this.interrupted = true;
      await session.close();
    }
  }
}
