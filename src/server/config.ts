// The server's configuration: flags > DIRIGENT_* environment > config file > defaults, validated once.
// This is one of the two places (with cli/) that read the environment.
import { z } from "zod";
import { DirigentError } from "../core/errors.js";
import { type AlertsConfig, checkAlertsConfig } from "../observability/alerts/rules.js";
import { DEFAULT_MAX_BODY_BYTES } from "./app.js";
import { type ConfigFile, readConfigFile } from "./config-file.js";
import { parseDatabaseUrlSafe } from "./database.js";

export { type DatabaseTarget, parseDatabaseUrl } from "./database.js";

export const LOG_LEVELS = ["silent", "fatal", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface ServerConfig {
  /** `sqlite:./dirigent.db` (or a plain file path) or `postgres://user@host/db`. */
  databaseUrl: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to listen on; 127.0.0.1 unless you mean to expose the server. */
  host: string;
  /** On SIGTERM, how long in-flight runs get to reach a durable point before their leases are released. */
  shutdownGraceMs: number;
  /** Largest request body in bytes. */
  maxBodyBytes: number;
  /** Request and engine logs (pino levels); "silent" turns them off. */
  logLevel: LogLevel;
  /** JSON lines (for log collectors), or "pretty": one human-readable line each (`dirigent dev`). */
  logFormat: LogFormat;
  /**
   * This node's name in leases, spans and logs; "" (the default) lets the engine make a unique one.
   * Two processes must never share one: a renewal by one would vouch for the other's runs.
   */
  nodeId: string;
  /**
   * How long a claim on a run lasts without renewal: a dead node's runs are taken over after about
   * this long, and a node that cannot renew stops its runs after 0.8 of it (docs/cluster.md).
   */
  leaseMs: number;
  /** How often an idle node looks for due work when no notification arrives. */
  pollIntervalMs: number;
  /**
   * Alert rules and webhooks (docs/observability.md). Only from the config file's `alerts` key or from
   * code: a list of rules does not fit a flag or a variable.
   */
  alerts?: AlertsConfig;
}

/** The settings that flags and DIRIGENT_* variables can give too. */
type ScalarKey = Exclude<keyof ServerConfig, "alerts">;

export const DEFAULT_PORT = 7070;

export const SERVER_DEFAULTS: ServerConfig = {
  databaseUrl: "sqlite:./dirigent.db",
  port: DEFAULT_PORT,
  host: "127.0.0.1",
  shutdownGraceMs: 10_000,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  logLevel: "silent",
  logFormat: "json",
  nodeId: "",
  leaseMs: 30_000,
  pollIntervalMs: 1_000,
};

/** The environment variable of each setting. */
export const ENV_VARS: Record<ScalarKey, string> = {
  databaseUrl: "DIRIGENT_DATABASE_URL",
  port: "DIRIGENT_PORT",
  host: "DIRIGENT_HOST",
  shutdownGraceMs: "DIRIGENT_SHUTDOWN_GRACE_MS",
  maxBodyBytes: "DIRIGENT_MAX_BODY_BYTES",
  logLevel: "DIRIGENT_LOG_LEVEL",
  logFormat: "DIRIGENT_LOG_FORMAT",
  nodeId: "DIRIGENT_NODE_ID",
  leaseMs: "DIRIGENT_LEASE_MS",
  pollIntervalMs: "DIRIGENT_POLL_INTERVAL_MS",
};

/** Names a JSON or YAML config file when no `config` flag does. */
export const CONFIG_FILE_ENV = "DIRIGENT_CONFIG";

const KEYS = Object.keys(ENV_VARS) as ScalarKey[];
const FILE_KEYS: string[] = [...KEYS, "alerts"];

// Environment and flags arrive as strings: whole numbers are accepted as digit strings too.
const wholeNumber = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: `expected a whole number from ${min} to ${max}` })
      .int()
      .min(min)
      .max(max),
  );

const FIELDS: { [K in ScalarKey]: z.ZodType<ServerConfig[K]> } = {
  databaseUrl: z
    .string()
    .min(1)
    .refine((v) => parseDatabaseUrlSafe(v) !== undefined, {
      message: "expected sqlite:<path>, a file path, or postgres://…",
    }),
  port: wholeNumber(0, 65_535),
  host: z.string().min(1).max(255),
  shutdownGraceMs: wholeNumber(0, 3_600_000),
  maxBodyBytes: wholeNumber(1_024, 1_073_741_824),
  logLevel: z.enum(LOG_LEVELS),
  logFormat: z.enum(LOG_FORMATS),
  nodeId: z
    .string()
    .max(200)
    .regex(/^[\w.:@-]*$/, "expected letters, digits and . _ : @ - only"),
  // At least 1 s: renewals go out every third of it, and self-fencing stops runs at 0.8 of it.
  leaseMs: wholeNumber(1_000, 3_600_000),
  pollIntervalMs: wholeNumber(10, 600_000),
};

export type ConfigInput = { [K in keyof ServerConfig]?: unknown };

export interface ConfigSources {
  /** Command-line flags (highest precedence); `config` names a config file. Undefined values are ignored. */
  flags?: ConfigInput & { config?: string };
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** A command's own defaults (`dirigent dev`'s database and logs): below the file, above SERVER_DEFAULTS. */
  defaults?: Partial<Omit<ServerConfig, "alerts">>;
}

/**
 * Resolve the server configuration from flags, DIRIGENT_* variables and an optional JSON or YAML file
 * (named by the `config` flag or DIRIGENT_CONFIG), in that precedence, over the defaults. Unknown keys
 * and bad values are refused with INVALID_OPTIONS naming where each came from.
 *
 * @example
 * const config = resolveServerConfig({ flags: { port: opts.port, config: opts.config } });
 * await startServer({ ...config, workflows });
 */
export function resolveServerConfig(sources: ConfigSources = {}): ServerConfig {
  const env = sources.env ?? process.env;
  const { config: configPath, ...flags } = sources.flags ?? {};
  const problems: string[] = [];
  checkKeys(flags, FILE_KEYS, (key) => `flags: unknown setting "${key}"`, problems);

  const filePath = nonEmpty(configPath) ?? nonEmpty(env[CONFIG_FILE_ENV]);
  let file: ConfigFile | undefined;
  if (filePath) {
    file = readConfigFile(filePath);
    if (file.problem) problems.push(`config file ${filePath}: ${file.problem}`);
    const where = file.where;
    checkKeys(
      file.data ?? {},
      FILE_KEYS,
      (key) => `config file ${where([key])}: unknown setting "${key}"`,
      problems,
    );
  }
  const fromFile = file?.data ?? {};
  const at = (key: string) => `${file?.where([key])} (${key})`;

  const resolved: Record<string, unknown> = {};
  for (const key of KEYS) {
    const candidates: [unknown, () => string][] = [
      [(flags as ConfigInput)[key], () => `flag ${key}`],
      [nonEmpty(env[ENV_VARS[key]]), () => ENV_VARS[key]],
      [fromFile[key], () => at(key)],
      [sources.defaults?.[key], () => `default ${key}`],
    ];
    const found = candidates.find(([value]) => value !== undefined);
    if (!found) {
      resolved[key] = SERVER_DEFAULTS[key];
      continue;
    }
    const [value, where] = found;
    const parsed = FIELDS[key].safeParse(value);
    if (parsed.success) resolved[key] = parsed.data;
    else
      problems.push(
        `${where()}: ${parsed.error.issues[0]?.message ?? "invalid"} (got ${JSON.stringify(value)})`,
      );
  }

  const alerts = flags.alerts ?? fromFile.alerts;
  if (alerts !== undefined) {
    const checked = checkAlertsConfig(alerts);
    if (checked.ok) resolved.alerts = alerts;
    for (const p of checked.ok ? [] : checked.problems) {
      const keys = ["alerts", ...p.path];
      const path = keys.join(".");
      const where = flags.alerts !== undefined ? path : `${file?.where(keys)} (${path})`;
      problems.push(`${where}: ${p.message}`);
    }
  }

  if (problems.length > 0) {
    throw new DirigentError("INVALID_OPTIONS", `invalid server configuration: ${problems.join("; ")}`, {
      problems,
    });
  }
  return resolved as unknown as ServerConfig;
}

/** Validate settings given in code (startServer's options): unknown keys refused, defaults filled in. */
export function validateServerConfig(input: ConfigInput): ServerConfig {
  return resolveServerConfig({ flags: input, env: {} });
}

function checkKeys(
  object: Record<string, unknown>,
  known: string[],
  problem: (key: string) => string,
  problems: string[],
): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) problems.push(`${problem(key)} (known: ${known.join(", ")})`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}
