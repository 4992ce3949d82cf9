import { readFileSync } from "node:fs";
import { type CommandUnknownOpts, InvalidArgumentError } from "@commander-js/extra-typings";
import { DirigentError } from "../../core/errors.js";
import { parseJsonInput } from "../../core/payload.js";
import { RUN_STATUSES, type RunRecord, type RunStatus } from "../../core/types.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";

/** Builds the context of a running command from its (global) options. */
export type ContextFactory = (command: CommandUnknownOpts) => CliContext;

export const DEFAULT_WAIT_MS = 30_000;

/** commander parser of `--limit`, `--wait-ms`, ...: a whole number within bounds. */
export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** commander parser of `--status running,waiting`. */
export function statusListOption(value: string): RunStatus[] {
  const statuses = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = statuses.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
  if (statuses.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${RUN_STATUSES.join(", ")}`);
  }
  return statuses as RunStatus[];
}

/** JSON text from an option, or INVALID_JSON naming the option. */
export function parseJsonOption(text: string | undefined, what: string): unknown {
  return text === undefined ? undefined : parseJsonInput(text, what);
}

/** The workflow input from `--input <json>` or `--input-file <file>` (`-` reads stdin). */
export function readInput(options: { input?: string; inputFile?: string }): unknown {
  if (options.input !== undefined && options.inputFile !== undefined) {
    throw new UsageError("give the input with --input or with --input-file, not both");
  }
  if (options.inputFile === undefined) return parseJsonOption(options.input, "--input");
  let text: string;
  try {
    text = readFileSync(options.inputFile === "-" ? 0 : options.inputFile, "utf8");
  } catch (error) {
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `cannot read --input-file "${options.inputFile}": ${(error as Error).message}`,
    );
  }
  return parseJsonInput(text, `--input-file ${options.inputFile}`);
}

/** The short JSON form of a run's outcome (errors without stack or details; `describe` has everything). */
export function runSummary(run: RunRecord) {
  return {
    runId: run.runId,
    workflow: run.workflow,
    version: run.version,
    status: run.status,
    output: run.output,
    error: run.error ? { name: run.error.name, code: run.error.code, message: run.error.message } : undefined,
  };
}

/**
 * commander parser of `--concurrency 4` / `--rate 2.5`: a number, or "none" to remove the limit
 * (commander turns a parsed null into "", so the sentinel is a string; see limitValue).
 */
export function limitOption(integer: boolean) {
  return (value: string): number | "none" => {
    if (/^(none|unlimited|off)$/i.test(value.trim())) return "none";
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`expected a ${integer ? "whole " : ""}number above 0, or "none"`);
    }
    return n;
  };
}

/** A parsed limit option as the API takes it: undefined leaves it, null removes it. */
export function limitValue(value: number | "none" | undefined): number | null | undefined {
  return value === "none" ? null : value;
}

/** The run's summary in jsonl streams and bulk reports. */
export type RunSummary = ReturnType<typeof runSummary>;
