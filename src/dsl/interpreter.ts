import { z } from "zod";
import { type Duration, toMs } from "../core/duration.js";
import { isDirigentError, TerminalError, toErrorInfo } from "../core/errors.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy, resolveRetryPolicy } from "../core/retry.js";
import { isAbandoned } from "../runtime/abandon.js";
import type { StepInfo, StepOptions, WorkflowContext } from "../runtime/context.js";
import { type WorkflowDefinition, workflow } from "../runtime/workflow.js";
import { dslError } from "./errors.js";
import {
  compileCondition,
  compileTemplate,
  DEFAULT_LIMITS,
  type EvalEnv,
  type Expr,
  type ExpressionLimits,
  evaluate,
  evaluateExpr,
  expressionError,
  type Template,
} from "./expressions.js";
import { type Fiber, ROOT_FIBER, runGroup } from "./fibers.js";
import { callHttp, compileHttp, type HttpPlan } from "./http.js";
import { type DslDocument, type DslRetry, type DslStep, type DslTask, stepKind } from "./schema.js";
import { noSecrets, type SecretResolver } from "./secrets.js";

/** Hands a task compensation to a queue and waits for it (registry.ts provides one over an Engine). */
export type TaskCompensationRunner = (
  request: { key: string; queue: string; input: unknown; priority?: number; timeoutMs?: number },
  signal: AbortSignal,
) => Promise<unknown>;

export interface CompileOptions {
  /** Recorded on every run; runs replay on the version they started with. Default "1". */
  version?: string | number;
  /** Where `secrets.NAME` comes from. Default: none (a reference fails with SECRET_NOT_FOUND). */
  secrets?: SecretResolver;
  limits?: Partial<ExpressionLimits>;
  /** Needed only by definitions with a `compensate: { task }`. */
  taskCompensations?: TaskCompensationRunner;
}

/** Most items a forEach accepts. */
export const MAX_FOREACH_ITEMS = 10_000;
const MAX_NAME = 200;

// ---- plans: the definition with its templates compiled once ----------------------------------------

interface Base {
  id: string;
  /** Path in the document, for messages: `steps[1].http`. */
  where: string;
  output?: Template;
}
interface CallPlan {
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  compensate?: CompensationPlan;
}
type CompensationPlan =
  | { kind: "http"; http: HttpPlan; timeoutMs?: number; where: string }
  | { kind: "task"; task: TaskPlan; timeoutMs?: number; where: string };
interface TaskPlan {
  queue: string;
  input?: Template;
  priority?: number;
  heartbeatTimeoutMs?: number;
  scheduleToStartMs?: number;
}
type Plan = Base &
  (
    | ({ kind: "http"; http: HttpPlan } & CallPlan)
    | ({ kind: "task"; task: TaskPlan } & CallPlan)
    | { kind: "switch"; cases: { when: Expr; steps: Plan[] }[]; otherwise?: Plan[] }
    | { kind: "parallel"; branches: Plan[][]; join: "all" | "first" }
    | { kind: "forEach"; items: Expr; as: string; concurrency: number; steps: Plan[] }
    | { kind: "wait"; duration?: Template; until?: Template }
    | { kind: "waitForSignal"; signal: string; timeoutMs?: number; fallback?: Template }
    | { kind: "subWorkflow"; workflow: string; input?: Template }
    | { kind: "set"; values: [string, Template][] }
    | { kind: "fail"; message: Template; code?: string; details?: Template }
    | { kind: "succeed"; value?: Template }
  );

interface Program {
  vars: [string, Template][];
  steps: Plan[];
  output?: Template;
  onFailure?: Plan[];
}

function retryOf(r: DslRetry | undefined): Partial<RetryPolicy> | undefined {
  if (!r) return undefined;
  const p: Partial<RetryPolicy> = {};
  if (r.maxAttempts !== undefined) p.maxAttempts = r.maxAttempts;
  if (r.initialInterval !== undefined) p.initialIntervalMs = toMs(r.initialInterval);
  if (r.maxInterval !== undefined) p.maxIntervalMs = toMs(r.maxInterval);
  else if (p.initialIntervalMs !== undefined) {
    p.maxIntervalMs = Math.max(p.initialIntervalMs, DEFAULT_RETRY_POLICY.maxIntervalMs);
  }
  if (r.backoffCoefficient !== undefined) p.backoffCoefficient = r.backoffCoefficient;
  if (r.jitter !== undefined) p.jitter = r.jitter;
  resolveRetryPolicy(p); // refuses an inconsistent policy now, not at the first failure
  return p;
}

const ms = (d: Duration | undefined) => (d === undefined ? undefined : toMs(d));

function compileTask(t: DslTask, limits: ExpressionLimits): TaskPlan {
  return {
    queue: t.queue,
    input: t.input === undefined ? undefined : compileTemplate(t.input, limits),
    priority: t.priority,
    heartbeatTimeoutMs: ms(t.heartbeatTimeout),
    scheduleToStartMs: ms(t.scheduleToStartTimeout),
  };
}

function compileSteps(steps: DslStep[], path: string, doc: DslDocument, limits: ExpressionLimits): Plan[] {
  return steps.map((s, i) => compileStep(s, `${path}[${i}]`, doc, limits));
}

function compileStep(s: DslStep, path: string, doc: DslDocument, limits: ExpressionLimits): Plan {
  const kind = stepKind(s);
  const base: Base = {
    id: s.id,
    where: `${path}.${kind}`,
    output: s.output === undefined ? undefined : compileTemplate(s.output, limits),
  };
  const x = s as any;
  const call = (): CallPlan => {
    const c = x.compensate;
    let compensate: CompensationPlan | undefined;
    if (c) {
      compensate =
        "http" in c
          ? {
              kind: "http",
              http: compileHttp(c.http, limits),
              timeoutMs: ms(c.timeout),
              where: `${path}.compensate.http`,
            }
          : {
              kind: "task",
              task: compileTask(c.task, limits),
              timeoutMs: ms(c.timeout),
              where: `${path}.compensate.task`,
            };
    }
    return { retry: retryOf(x.retry), timeoutMs: ms(x.timeout ?? doc.defaults?.timeout), compensate };
  };
  switch (kind) {
    case "http":
      return { ...base, kind, http: compileHttp(x.http, limits), ...call() };
    case "task":
      return { ...base, kind, task: compileTask(x.task, limits), ...call() };
    case "switch":
      return {
        ...base,
        kind,
        cases: x.switch.cases.map((c: { when: string; steps: DslStep[] }, i: number) => ({
          when: compileCondition(c.when, limits),
          steps: compileSteps(c.steps, `${base.where}.cases[${i}].steps`, doc, limits),
        })),
        otherwise: x.switch.default && compileSteps(x.switch.default, `${base.where}.default`, doc, limits),
      };
    case "parallel":
      return {
        ...base,
        kind,
        join: x.parallel.join ?? "all",
        branches: x.parallel.branches.map((b: { steps: DslStep[] }, i: number) =>
          compileSteps(b.steps, `${base.where}.branches[${i}].steps`, doc, limits),
        ),
      };
    case "forEach":
      return {
        ...base,
        kind,
        items: compileCondition(x.forEach.items, limits),
        as: x.forEach.as ?? "item",
        concurrency: x.forEach.concurrency ?? 10,
        steps: compileSteps(x.forEach.steps, `${base.where}.steps`, doc, limits),
      };
    case "wait":
      return "duration" in x.wait
        ? { ...base, kind, duration: compileTemplate(x.wait.duration, limits) }
        : { ...base, kind, until: compileTemplate(x.wait.until, limits) };
    case "waitForSignal":
      return {
        ...base,
        kind,
        signal: x.waitForSignal.signal ?? s.id,
        timeoutMs: ms(x.waitForSignal.timeout),
        fallback: "default" in x.waitForSignal ? compileTemplate(x.waitForSignal.default, limits) : undefined,
      };
    case "subWorkflow":
      return {
        ...base,
        kind,
        workflow: x.subWorkflow.workflow,
        input: x.subWorkflow.input === undefined ? undefined : compileTemplate(x.subWorkflow.input, limits),
      };
    case "set":
      return {
        ...base,
        kind,
        values: Object.entries(x.set as Record<string, unknown>).map(([k, v]) => [
          k,
          compileTemplate(v, limits),
        ]),
      };
    case "fail":
      return {
        ...base,
        kind,
        message: compileTemplate(x.fail.message, limits),
        code: x.fail.code,
        details: x.fail.details === undefined ? undefined : compileTemplate(x.fail.details, limits),
      };
    case "succeed":
      return {
        ...base,
        kind,
        value: x.succeed.output === undefined ? undefined : compileTemplate(x.succeed.output, limits),
      };
  }
}

// ---- execution -----------------------------------------------------------------------------------

/** A `succeed` step: ends the run at once, through every branch and loop. */
class Succeed {
  constructor(
    readonly has: boolean,
    readonly output: unknown,
  ) {}
}

/** Ends a concurrency group at once whatever its join. */
const isControl = (err: unknown) => err instanceof Succeed || isAbandoned(err);

interface Scope {
  input: unknown;
  vars: Record<string, unknown>;
  steps: Record<string, { output: unknown }>;
  /** `item`/`index` in forEach, `error` in onFailure. */
  extra: Record<string, unknown>;
  /** Appended to journal names inside forEach items: `[3]`. */
  suffix: string;
}

const contextOf = (s: Scope): Record<string, unknown> => ({
  input: s.input,
  vars: s.vars,
  steps: s.steps,
  ...s.extra,
});

/** A frozen copy of the context for a step function or compensation that runs later. */
const snapshotOf = (s: Scope): Record<string, unknown> => ({
  input: s.input,
  vars: { ...s.vars },
  steps: { ...s.steps },
  ...s.extra,
});

const stepEnv = (where: string): EvalEnv => ({ random: Math.random, now: Date.now, where, inStep: true });

/** JSONata's $boolean rules. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(truthy);
  if (v !== null && typeof v === "object") return Object.keys(v).length > 0;
  return Boolean(v);
}

class Interpreter {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly program: Program,
    private readonly secrets: SecretResolver,
    private readonly limits: ExpressionLimits,
    private readonly taskCompensations: TaskCompensationRunner | undefined,
  ) {}

  async run(input: unknown): Promise<unknown> {
    const scope: Scope = { input, vars: {}, steps: {}, extra: {}, suffix: "" };
    try {
      for (const [k, t] of this.program.vars) scope.vars[k] = await this.eval(t, scope, `vars.${k}`);
      const last = await this.steps(this.program.steps, scope, ROOT_FIBER);
      return await this.output(scope, last);
    } catch (err) {
      if (err instanceof Succeed) return err.has ? err.output : this.output(scope, null);
      if (isAbandoned(err) || !this.program.onFailure) throw err;
      const failed: Scope = { ...scope, extra: { ...scope.extra, error: toErrorInfo(err) } };
      try {
        await this.steps(this.program.onFailure, failed, ROOT_FIBER);
      } catch (inner) {
        if (inner instanceof Succeed) return inner.has ? inner.output : null;
        if (isAbandoned(inner)) throw inner;
        // The run fails with its own error; the onFailure step's failure is in the journal.
      }
      throw err;
    }
  }

  private async output(scope: Scope, last: unknown): Promise<unknown> {
    if (!this.program.output) return last ?? null;
    return (await this.eval(this.program.output, scope, "output")) ?? null;
  }

  private env(where: string): EvalEnv {
    return { now: () => this.ctx.now(), random: () => this.ctx.random(), where };
  }

  private eval(t: Template, scope: Scope, where: string, more?: Record<string, unknown>): Promise<unknown> {
    const context = more ? { ...contextOf(scope), ...more } : contextOf(scope);
    return evaluate(t, context, this.env(where), this.limits);
  }

  private async steps(plans: Plan[], scope: Scope, fiber: Fiber): Promise<unknown> {
    let last: unknown = null;
    for (const p of plans) last = await this.step(p, scope, fiber);
    return last;
  }

  private async step(p: Plan, scope: Scope, fiber: Fiber): Promise<unknown> {
    const result = await this.execute(p, scope, fiber);
    const output = p.output ? await this.eval(p.output, scope, `${p.where}.output`, { result }) : result;
    scope.steps[p.id] = { output: output ?? null };
    return output ?? null;
  }

  private name(p: Plan, scope: Scope, tail = ""): string {
    const name = `${p.id}${scope.suffix}${tail}`;
    return name.length <= MAX_NAME ? name : `${name.slice(0, MAX_NAME - 12)}…${name.slice(-11)}`;
  }

  private async execute(p: Plan, scope: Scope, fiber: Fiber): Promise<unknown> {
    const ctx = this.ctx;
    switch (p.kind) {
      case "http": {
        const snapshot = snapshotOf(scope);
        const options: StepOptions<unknown> = { retry: p.retry, timeoutMs: p.timeoutMs };
        if (p.compensate) options.undo = (result, info) => this.compensate(p, snapshot, result, info);
        const call = (info: StepInfo) =>
          callHttp(p.http, snapshot, info, {
            secrets: this.secrets,
            limits: this.limits,
            where: p.where,
            timeoutMs: p.timeoutMs,
          });
        return fiber.wait(ctx.step(this.name(p, scope), call, options));
      }
      case "task": {
        const input = p.task.input ? await this.eval(p.task.input, scope, `${p.where}.input`) : undefined;
        const name = this.name(p, scope);
        const result = await fiber.wait(
          ctx.task(name, {
            queue: p.task.queue,
            input,
            retry: p.retry,
            startToCloseMs: p.timeoutMs,
            heartbeatTimeoutMs: p.task.heartbeatTimeoutMs,
            scheduleToStartMs: p.task.scheduleToStartMs,
            priority: p.task.priority,
          }),
        );
        if (p.compensate) {
          // ctx.task takes no undo: a marker step right after it carries the compensation, so it runs in
          // its place in the reverse order.
          const snapshot = snapshotOf(scope);
          await fiber.wait(
            ctx.step(this.name(p, scope, ":compensation"), () => null, {
              undo: (_none, info) => this.compensate(p, snapshot, result, info),
            }),
          );
        }
        return result;
      }
      case "switch": {
        for (const [i, c] of p.cases.entries()) {
          const hit = await evaluateExpr(
            c.when,
            contextOf(scope),
            this.env(`${p.where}.cases[${i}].when`),
            this.limits,
          );
          if (truthy(hit)) return this.steps(c.steps, scope, fiber);
        }
        return p.otherwise ? this.steps(p.otherwise, scope, fiber) : null;
      }
      case "parallel": {
        const scopes = p.branches.map(() => this.child(scope, scope.suffix, {}));
        const r = await runGroup(fiber, {
          name: this.name(p, scope, ":next"),
          count: p.branches.length,
          limit: p.branches.length,
          join: p.join,
          body: (i, f) => this.steps(p.branches[i], scopes[i], f),
          record: (name, ready) => ctx.step(name, () => ready),
          propagate: isControl,
        });
        if (r.join === "first") {
          Object.assign(scope.steps, scopes[r.index].steps);
          return { branch: r.index, output: r.result };
        }
        for (const s of scopes) Object.assign(scope.steps, s.steps);
        return r.results;
      }
      case "forEach": {
        let items = await evaluateExpr(p.items, contextOf(scope), this.env(`${p.where}.items`), this.limits);
        if (items === undefined || items === null) items = [];
        if (!Array.isArray(items)) items = [items];
        const list = items as unknown[];
        if (list.length > MAX_FOREACH_ITEMS) {
          throw expressionError(
            this.env(`${p.where}.items`),
            p.items.source,
            `${list.length} items, over ${MAX_FOREACH_ITEMS}`,
          );
        }
        const r = await runGroup(fiber, {
          name: this.name(p, scope, ":next"),
          count: list.length,
          limit: p.concurrency,
          join: "all",
          body: (i, f) =>
            this.steps(p.steps, this.child(scope, `${scope.suffix}[${i}]`, { [p.as]: list[i], index: i }), f),
          record: (name, ready) => ctx.step(name, () => ready),
          propagate: isControl,
        });
        return (r as { results: unknown[] }).results;
      }
      case "wait": {
        const where = p.duration ? `${p.where}.duration` : `${p.where}.until`;
        const value = await this.eval((p.duration ?? p.until)!, scope, where);
        if (p.duration) {
          let delay: number;
          try {
            delay = toMs(value as Duration);
          } catch {
            throw dslError("EXPRESSION_ERROR", `${where} is not a duration: ${JSON.stringify(value)}`);
          }
          await fiber.wait(ctx.sleep(this.name(p, scope), delay));
        } else {
          const at =
            typeof value === "number" ? value : typeof value === "string" ? Date.parse(value) : Number.NaN;
          if (!Number.isFinite(at))
            throw dslError("EXPRESSION_ERROR", `${where} is not a time: ${JSON.stringify(value)}`);
          await fiber.wait(ctx.sleepUntil(this.name(p, scope), at));
        }
        return null;
      }
      case "waitForSignal": {
        try {
          return await fiber.wait(ctx.waitForSignal(p.signal, { timeoutMs: p.timeoutMs }));
        } catch (err) {
          if (p.fallback && isDirigentError(err) && err.code === "SIGNAL_TIMEOUT") {
            return this.eval(p.fallback, scope, `${p.where}.default`);
          }
          throw err;
        }
      }
      case "subWorkflow": {
        const input = p.input ? await this.eval(p.input, scope, `${p.where}.input`) : null;
        return fiber.wait(ctx.child(p.workflow, input));
      }
      case "set": {
        const assigned: Record<string, unknown> = {};
        for (const [k, t] of p.values) {
          const v = (await this.eval(t, scope, `${p.where}.${k}`)) ?? null;
          scope.vars[k] = v;
          assigned[k] = v;
        }
        return assigned;
      }
      case "fail": {
        const message = await this.eval(p.message, scope, `${p.where}.message`);
        const details = p.details ? await this.eval(p.details, scope, `${p.where}.details`) : undefined;
        const err = new TerminalError(typeof message === "string" ? message : JSON.stringify(message), {
          code: p.code ?? "WORKFLOW_FAILED",
          details,
        });
        err.stack = undefined; // the interpreter's stack says nothing about the definition
        throw err;
      }
      case "succeed": {
        if (!p.value) throw new Succeed(false, undefined);
        throw new Succeed(true, (await this.eval(p.value, scope, `${p.where}.output`)) ?? null);
      }
    }
  }

  /** A branch or item: sees everything so far; what it assigns to vars stays its own. */
  private child(scope: Scope, suffix: string, extra: Record<string, unknown>): Scope {
    return {
      input: scope.input,
      vars: { ...scope.vars },
      steps: { ...scope.steps },
      extra: { ...scope.extra, ...extra },
      suffix,
    };
  }

  /** Runs inside the compensation step: the context is the one the step saw, plus its output as `result`/steps. */
  private async compensate(
    p: Plan & CallPlan,
    snapshot: Record<string, unknown>,
    result: unknown,
    info: StepInfo,
  ): Promise<unknown> {
    const c = p.compensate!;
    const output = p.output
      ? await evaluate(p.output, { ...snapshot, result }, stepEnv(`${p.where}.output`), this.limits)
      : result;
    const steps = { ...(snapshot.steps as object), [p.id]: { output: output ?? null } };
    const context = { ...snapshot, steps, result };
    if (c.kind === "http") {
      return callHttp(c.http, context, info, {
        secrets: this.secrets,
        limits: this.limits,
        where: c.where,
        timeoutMs: c.timeoutMs,
      });
    }
    if (!this.taskCompensations) {
      throw new TerminalError(
        `${c.where}: task compensations need an engine (deploy with deployDefinition)`,
        {
          code: "NOT_IMPLEMENTED",
        },
      );
    }
    const input = c.task.input
      ? await evaluate(c.task.input, context, stepEnv(`${c.where}.input`), this.limits)
      : undefined;
    return this.taskCompensations(
      {
        key: info.idempotencyKey,
        queue: c.task.queue,
        input,
        priority: c.task.priority,
        timeoutMs: c.timeoutMs,
      },
      info.signal,
    );
  }
}

/**
 * Compile a validated definition (see parseDefinition) into a WorkflowDefinition for the engine. Its
 * function is the interpreter: every http call is a journaled step (secrets resolved inside it), task
 * → ctx.task, wait → ctx.sleep/sleepUntil, waitForSignal → ctx.waitForSignal, subWorkflow → ctx.child,
 * compensate → the step's undo; set, switch, fail and succeed are pure (computed again on replay from
 * journaled data). So a DSL run has the durability, retries, history and replay of a code workflow.
 *
 * @example
 * const { doc } = parseDefinition(source, { file: "place-order.yaml" });
 * engine.register(compileDefinition(doc, { version: 3, secrets: secretsFromEnv(process.env) }));
 */
export function compileDefinition(doc: DslDocument, options: CompileOptions = {}): WorkflowDefinition {
  const limits: ExpressionLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const program: Program = {
    vars: Object.entries(doc.vars ?? {}).map(([k, v]) => [k, compileTemplate(v, limits)]),
    steps: compileSteps(doc.steps, "steps", doc, limits),
    output: doc.output === undefined ? undefined : compileTemplate(doc.output, limits),
    onFailure: doc.onFailure && compileSteps(doc.onFailure, "onFailure", doc, limits),
  };
  const secrets = options.secrets ?? noSecrets;
  const input = doc.input === undefined ? undefined : (z.fromJSONSchema(doc.input as any) as z.ZodType);
  return workflow(
    doc.name,
    (ctx, runInput) =>
      new Interpreter(ctx, program, secrets, limits, options.taskCompensations).run(runInput),
    {
      version: String(options.version ?? "1"),
      input,
      retry: retryOf(doc.defaults?.retry),
      runTimeoutMs: ms(doc.timeout),
    },
  );
}
