import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { DirigentError, TerminalError } from "../core/errors.js";
import type { DefinitionRecord } from "../core/types.js";
import type { Engine } from "../runtime/engine.js";
import { type WorkflowDefinition, workflow } from "../runtime/workflow.js";
import type { Store } from "../store/store.js";
import { dslError } from "./errors.js";
import type { ExpressionLimits } from "./expressions.js";
import { type DefinitionGraph, definitionGraph } from "./graph.js";
import { compileDefinition, type TaskCompensationRunner } from "./interpreter.js";
import { parseDefinition } from "./parse.js";
import type { SecretResolver } from "./secrets.js";

export interface DslEngineOptions {
  secrets?: SecretResolver;
  limits?: Partial<ExpressionLimits>;
}

export interface DeployOptions extends DslEngineOptions {
  /** Named in validation errors; `.json` selects JSON when `format` is not given. */
  file?: string;
  format?: "yaml" | "json";
}

export interface DeployResult {
  name: string;
  /** The stored version holding this source (1, 2, …). */
  version: number;
  /** False when the latest version already had exactly this source (nothing new was stored). */
  created: boolean;
  graph: DefinitionGraph;
  workflow: WorkflowDefinition;
}

/** Compiled definitions, so a DSL deploy never replaces a code workflow of the same name. */
const fromDsl = new WeakSet<WorkflowDefinition>();

/** The internal workflow that runs a task compensation durably (see taskCompensationRunner). */
export const TASK_COMPENSATION_WORKFLOW = "dirigent.dsl.task-compensation";

/**
 * Validate a definition, store it as the next version of its name, and register the compiled workflow
 * on the engine under that version. New runs start on it; runs already going keep the version they
 * started with (every stored version stays registered, see loadDefinitions). Deploying the same text
 * again stores nothing and returns the existing version. Invalid definitions are refused with
 * INVALID_DEFINITION (file, line, column, path, expected) and never stored.
 *
 * @example
 * const { name, version } = await deployDefinition(engine, readFileSync(file, "utf8"), { file });
 */
export async function deployDefinition(
  engine: Engine,
  source: string,
  options: DeployOptions = {},
): Promise<DeployResult> {
  const parsed = parseDefinition(source, options);
  const name = parsed.doc.name;
  const existing = engine.registry.get(name);
  if (existing && !fromDsl.has(existing)) {
    throw dslError(
      "INVALID_DEFINITION",
      `${parsed.file}:1:1: name: a code workflow named "${name}" is registered; expected a name not used by a code workflow`,
      { file: parsed.file, line: 1, column: 1, path: "name", expected: "a name not used by a code workflow" },
    );
  }
  // Compile before storing, so what is stored always compiles.
  compileFor(engine, parsed.doc, "0", options);
  const [result] = await engine.store.write([
    {
      type: "putDefinition",
      name,
      format: parsed.format,
      source,
      checksum: checksumOf(source),
      now: engine.clock.now(),
    },
  ]);
  if (!result.ok || result.version === undefined) {
    throw new DirigentError(
      "INTERNAL",
      `storing definition "${name}" failed: ${result.ok ? "no version" : result.code}`,
    );
  }
  const def = compileFor(engine, parsed.doc, String(result.version), options);
  engine.register(def);
  return {
    name,
    version: result.version,
    created: result.created === true,
    graph: definitionGraph(parsed.doc),
    workflow: def,
  };
}

/**
 * Deploy a definition file (`.yaml`, `.yml` or `.json`): what `dirigent workflow deploy file.yaml` does.
 *
 * @example
 * await deployFile(engine, "examples/order/place-order.yaml");
 */
export async function deployFile(
  engine: Engine,
  path: string,
  options: DslEngineOptions = {},
): Promise<DeployResult> {
  let source: string;
  try {
    source = await readFile(path, "utf8");
  } catch (err) {
    throw dslError("DEFINITION_NOT_FOUND", `cannot read ${path}: ${(err as Error).message}`, { file: path });
  }
  return deployDefinition(engine, source, { ...options, file: path });
}

export interface LoadResult {
  loaded: { name: string; version: number }[];
  /** Stored versions that no longer compile (kept in the store, not registered). */
  failed: { name: string; version: number; error: DirigentError }[];
}

/**
 * Register every stored version of every definition on the engine (oldest first, so the newest is
 * what new runs start on). Call at start-up, before `engine.start()`, so runs replay on the version
 * they started with.
 *
 * @example
 * await loadDefinitions(engine, { secrets: secretsFromEnv(process.env) });
 * await engine.start();
 */
export async function loadDefinitions(engine: Engine, options: DslEngineOptions = {}): Promise<LoadResult> {
  await engine.store.migrate();
  const out: LoadResult = { loaded: [], failed: [] };
  for (const rec of await engine.store.listDefinitions()) {
    try {
      const parsed = parseDefinition(rec.source, { file: `${rec.name}@${rec.version}`, format: rec.format });
      engine.register(compileFor(engine, parsed.doc, String(rec.version), options));
      out.loaded.push({ name: rec.name, version: rec.version });
    } catch (err) {
      out.failed.push({ name: rec.name, version: rec.version, error: err as DirigentError });
    }
  }
  return out;
}

/** A stored definition with its graph (for the API and the dashboard). DEFINITION_NOT_FOUND if absent. */
export async function getDefinition(
  store: Store,
  name: string,
  version?: number,
): Promise<DefinitionRecord & { graph: DefinitionGraph }> {
  const rec = await store.getDefinition(name, version);
  if (!rec) {
    throw dslError(
      "DEFINITION_NOT_FOUND",
      `definition "${name}"${version === undefined ? "" : ` version ${version}`} not found`,
      { name, version },
    );
  }
  const { doc } = parseDefinition(rec.source, { file: `${rec.name}@${rec.version}`, format: rec.format });
  return { ...rec, graph: definitionGraph(doc) };
}

/** Every stored definition version, without sources: name, version, format, checksum, createdAt. */
export async function listDefinitions(store: Store): Promise<Omit<DefinitionRecord, "source">[]> {
  return (await store.listDefinitions()).map(({ source: _source, ...rest }) => rest);
}

function checksumOf(source: string): string {
  return `sha256:${createHash("sha256").update(source).digest("hex")}`;
}

function compileFor(
  engine: Engine,
  doc: Parameters<typeof compileDefinition>[0],
  version: string,
  options: DslEngineOptions,
) {
  const def = compileDefinition(doc, {
    version,
    secrets: options.secrets,
    limits: options.limits,
    taskCompensations: taskCompensationRunner(engine),
  });
  fromDsl.add(def);
  return def;
}

const runners = new WeakMap<Engine, TaskCompensationRunner>();

/**
 * Task compensations on an engine. A compensation runs inside the step's undo, which is a local
 * function, while a task must wait durably for a worker. So the undo starts a run of an internal
 * workflow that hands the task to the queue, with the run id derived from the undo's idempotency key
 * (a retried or replayed undo finds the same run instead of starting another), and waits for it.
 */
export function taskCompensationRunner(engine: Engine): TaskCompensationRunner {
  let runner = runners.get(engine);
  if (runner) return runner;
  if (!engine.registry.get(TASK_COMPENSATION_WORKFLOW)) {
    engine.register(
      workflow(
        TASK_COMPENSATION_WORKFLOW,
        async (ctx, req: { queue: string; input: unknown; priority?: number; timeoutMs?: number }) =>
          ctx.task("compensate", {
            queue: req.queue,
            input: req.input,
            priority: req.priority,
            startToCloseMs: req.timeoutMs,
          }),
      ),
    );
  }
  runner = async ({ key, ...req }, signal) => {
    const runId = `compensate:${key}`;
    await engine.startRun(TASK_COMPENSATION_WORKFLOW, req, { runId });
    const finished = engine.waitForFinish(runId, 24 * 3_600_000);
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    finished.catch(() => {});
    const run = await Promise.race([finished, aborted]);
    if (run.status === "completed") return run.output;
    throw new TerminalError(`task compensation run ${runId} ${run.status}: ${run.error?.message ?? ""}`, {
      code: "STEP_FAILED",
    });
  };
  runners.set(engine, runner);
  return runner;
}
