import { readFileSync } from "node:fs";
import { dslError } from "./errors.js";

/**
 * Secrets are referenced by name (`{{ secrets.PAYMENTS_TOKEN }}`) and resolved when an HTTP attempt is
 * made, inside the step: the value goes into the request only, never into the journal, history, logs
 * or the dashboard (a response or error that echoes it is redacted before it is recorded).
 */
export type SecretResolver = (name: string) => string | undefined;

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Secrets from environment variables `<prefix><NAME>` (default prefix `DIRIGENT_SECRET_`). The caller
 * passes the environment: only the CLI and server read `process.env`.
 *
 * @example
 * compileDefinition(doc, { secrets: secretsFromEnv(process.env) });
 */
export function secretsFromEnv(
  env: Record<string, string | undefined>,
  prefix = "DIRIGENT_SECRET_",
): SecretResolver {
  return (name) => (SECRET_NAME.test(name) ? env[`${prefix}${name}`] : undefined);
}

/**
 * Secrets from a JSON file of `{ "NAME": "value" }`, read again on every lookup after `reloadMs`, so a
 * rotated secret is picked up without a restart.
 *
 * @example
 * const secrets = secretsFromFile("/run/secrets/dirigent.json");
 */
export function secretsFromFile(path: string, reloadMs = 5_000): SecretResolver {
  let cache: Record<string, unknown> | undefined;
  let loadedAt = 0;
  return (name) => {
    if (!cache || Date.now() - loadedAt > reloadMs) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(path, "utf8"));
      } catch (err) {
        // The message names the file, never its content.
        throw dslError("SECRET_NOT_FOUND", `secret file ${path} could not be read: ${(err as Error).name}`);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw dslError("SECRET_NOT_FOUND", `secret file ${path} is not a JSON object of names to values`);
      }
      cache = parsed as Record<string, unknown>;
      loadedAt = Date.now();
    }
    const value = Object.hasOwn(cache, name) ? cache[name] : undefined;
    return typeof value === "string" ? value : undefined;
  };
}

/** Try resolvers in order (e.g. a file, then the environment). */
export function combineSecrets(...resolvers: SecretResolver[]): SecretResolver {
  return (name) => {
    for (const r of resolvers) {
      const v = r(name);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

/** No secrets at all: every reference fails with SECRET_NOT_FOUND. */
export const noSecrets: SecretResolver = () => undefined;

/** Shortest secret value that is redacted where it is echoed (shorter ones would garble text). */
const MIN_REDACT_LENGTH = 4;

/** Replace every occurrence of the secret values in strings of `value` (deeply) by `[secret NAME]`. */
export function redact<T>(value: T, secrets: Map<string, string>): T {
  const pairs = [...secrets].filter(([, v]) => v.length >= MIN_REDACT_LENGTH);
  if (pairs.length === 0) return value;
  const scrub = (s: string) => {
    let out = s;
    for (const [name, v] of pairs) if (out.includes(v)) out = out.split(v).join(`[secret ${name}]`);
    return out;
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return scrub(v);
    if (depth > 100 || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [scrub(k), walk(x, depth + 1)]));
  };
  return walk(value, 0) as T;
}

/** Redact an error in place (message, stack, details), keeping its class so retry decisions still hold. */
export function redactError(err: unknown, secrets: Map<string, string>): unknown {
  if (secrets.size === 0 || err === null || typeof err !== "object") return err;
  const e = err as any;
  if (typeof e.message === "string") e.message = redact(e.message, secrets);
  if (typeof e.stack === "string") e.stack = redact(e.stack, secrets);
  if (e.details !== undefined) e.details = redact(e.details, secrets);
  if (e.options?.details !== undefined)
    e.options = { ...e.options, details: redact(e.options.details, secrets) };
  return err;
}
