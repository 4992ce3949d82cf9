// The one place of the CLI that reads the environment.
import { type DatabaseTarget, parseDatabaseUrlSafe } from "../server/database.js";
import { UsageError } from "./errors.js";

export const DEFAULT_DATABASE_PATH = "./dirigent.db";

/**
 * The database of local mode: `--db` (a path, a `sqlite:` URL or a `postgres://` URL), else
 * DIRIGENT_DATABASE_URL, else the SQLite file ./dirigent.db. Relative paths are relative to the
 * current directory.
 */
export function resolveDatabase(
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): DatabaseTarget {
  if (option !== undefined && option !== "") return databaseFromUrl(option, "--db");
  const url = env.DIRIGENT_DATABASE_URL;
  if (url !== undefined && url !== "") return databaseFromUrl(url, "DIRIGENT_DATABASE_URL");
  return { kind: "sqlite", path: DEFAULT_DATABASE_PATH };
}

/** `sqlite:./x.db`, `sqlite:///abs/x.db`, a plain path or `postgres://…` → the database it names. */
export function databaseFromUrl(value: string, where: string): DatabaseTarget {
  const target = parseDatabaseUrlSafe(value);
  if (target) return target;
  if (/^sqlite:(\/\/)?$/i.test(value)) throw new UsageError(`${where}: "${value}" names no database file`);
  throw new UsageError(
    `${where}: "${value}" is not a database this CLI can open (expected sqlite:./file.db, a path or postgres://…)`,
  );
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
