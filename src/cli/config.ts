// The one place of the CLI that reads the environment.
import { UsageError } from "./errors.js";

export const DEFAULT_DATABASE_PATH = "./dirigent.db";

/**
 * The SQLite file to open: `--db` (a path or a `sqlite:` URL), else DIRIGENT_DATABASE_URL, else
 * ./dirigent.db. Relative paths are relative to the current directory.
 */
export function resolveDatabasePath(
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (option !== undefined && option !== "") return databasePathFromUrl(option, "--db");
  const url = env.DIRIGENT_DATABASE_URL;
  if (url !== undefined && url !== "") return databasePathFromUrl(url, "DIRIGENT_DATABASE_URL");
  return DEFAULT_DATABASE_PATH;
}

/** `sqlite:./x.db`, `sqlite:///abs/x.db` or a plain path → the file path. */
export function databasePathFromUrl(value: string, where: string): string {
  if (/^postgres(ql)?:\/\//i.test(value)) {
    throw new UsageError(
      `${where}: PostgreSQL databases are not supported by the local CLI yet; use a sqlite: URL`,
    );
  }
  let path = value;
  if (/^sqlite:/i.test(value)) {
    path = value.slice("sqlite:".length);
    if (path.startsWith("//")) path = path.slice(2);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new UsageError(
      `${where}: "${value}" is not a database this CLI can open (expected sqlite:./file.db or a path)`,
    );
  }
  if (path === "") throw new UsageError(`${where}: "${value}" names no database file`);
  return path;
}

/**
 * The server to talk to: `--address`, else DIRIGENT_ADDRESS; undefined means local mode. A local
 * option given on the command line (--db, --module) outranks DIRIGENT_ADDRESS, the way flags outrank
 * the environment everywhere else.
 */
export function resolveAddress(
  option: string | undefined,
  localOption: boolean,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (option !== undefined) {
    if (option.trim() === "") throw new UsageError("--address names no server");
    if (localOption) {
      throw new UsageError(
        "--address talks to a server, --db and --module open a database in this process: give one or the other",
      );
    }
    return option;
  }
  if (localOption) return undefined;
  const fromEnv = env.DIRIGENT_ADDRESS;
  return fromEnv !== undefined && fromEnv.trim() !== "" ? fromEnv : undefined;
}
