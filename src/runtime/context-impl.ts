import { v7 as uuidv7 } from "uuid";
import { type Duration, toMs } from "../core/duration.js";
import { DirigentError, fromErrorInfo, StepFailedError } from "../core/errors.js";
import { hasUnstorableCharacters } from "../core/payload.js";
import { resolveRetryPolicy } from "../core/retry.js";
import type { ErrorInfo } from "../core/types.js";
import type {
  ChildOptions,
  SignalOptions,
  StepInfo,
  StepOptions,
  TaskOptions,
  WorkflowContext,
} from "./context.js";
import { waitingEntry } from "./entries.js";
import type { RunExecution, Wait } from "./execution.js";
import { type HttpRequestSpec, type HttpResponse, httpAttempt } from "./http-step.js";
import { undoPolicy } from "./saga.js";
import { runStep } from "./step-runner.js";
import type { WorkflowDefinition } from "./workflow.js";

/** The ctx handed to workflow code: each method takes the next seq and replays or records it. */
export class DurableContext implements WorkflowContext {
  constructor(private readonly exec: RunExecution) {}

  get runId(): string {
    return this.exec.runId;
  }

  get workflow(): string {
    return this.exec.def.name;
  }

  async step<T>(
    name: string,
    fn: (info: StepInfo) => Promise<T> | T,
    options: StepOptions<T> = {},
  ): Promise<T> {
    checkName(name, "step");
    const exec = this.exec;
    const { seq, recorded } = exec.allocate("step", name);
    const policy = resolveRetryPolicy(options.retry, exec.stepDefaults);
    const result = await runStep(exec, {
      seq,
      kind: "step",
      name,
      fn,
      policy,
      timeoutMs: options.timeoutMs,
      recorded,
      internal: false,
      detail: options.undo ? { hasUndo: true } : undefined,
    });
    if (options.undo) {
      const completedAt = recorded?.status === "completed" ? recorded.updatedAt : exec.now;
      exec.undos.push({ seq, name, result, undo: options.undo, policy: undoPolicy(policy), completedAt });
    }
    return result;
  }

  http(name: string, spec: HttpRequestSpec, options: StepOptions<HttpResponse> = {}): Promise<HttpResponse> {
    if (typeof spec?.url !== "string")
      throw new DirigentError("INVALID_ARGUMENT", `http step "${name}" needs a url`);
    return this.step(name, (info) => httpAttempt(spec, info, info.traceparent), options);
  }

  sleep(name: string, duration: Duration): Promise<void> {
    return this.sleepUntilInternal(name, () => this.exec.now + toMs(duration, `sleep "${name}"`));
  }

  sleepUntil(name: string, epochMs: number): Promise<void> {
    return this.sleepUntilInternal(name, () => epochMs);
  }

  private async sleepUntilInternal(name: string, due: () => number): Promise<void> {
    checkName(name, "sleep");
    const exec = this.exec;
    const { seq, recorded } = exec.allocate("sleep", name);
    if (recorded?.status === "completed") return;
    const wakeAt = recorded?.wakeAt ?? due();
    if (!recorded) {
      exec.writeLater({
        type: "putEntry",
        runId: exec.runId,
        fence: exec.fence,
        entry: waitingEntry(seq, "sleep", name, exec.now, wakeAt),
      });
    }
    await exec.addWait({ seq, kind: "sleep", name, wakeAt });
  }

  async waitForSignal<T = unknown>(name: string, options: SignalOptions = {}): Promise<T> {
    checkName(name, "signal");
    const exec = this.exec;
    const { seq, recorded } = exec.allocate("signal", name);
    if (recorded?.status === "completed") return recorded.result as T;
    if (recorded?.status === "failed") throw signalError(recorded.error!);
    let timeoutAt = recorded?.wakeAt;
    if (!recorded) {
      timeoutAt = options.timeoutMs === undefined ? undefined : exec.now + options.timeoutMs;
      // Consume a signal that arrived earlier, or record the wait: one atomic write either way.
      const r = await exec.writeOpeningWait({
        type: "consumeSignal",
        runId: exec.runId,
        fence: exec.fence,
        seq,
        name,
        signalName: name,
        now: exec.now,
        waitingEntry: waitingEntry(seq, "signal", name, exec.now, timeoutAt),
      });
      if (r.ok && r.consumed) return r.payload as T;
    }
    return (await exec.addWait({ seq, kind: "signal", name, wakeAt: timeoutAt })) as T;
  }

  /** Resolution of a signal wait on resume: consume one if it arrived, or time out. */
  async resolveSignal(wait: Wait, now: number): Promise<void> {
    const exec = this.exec;
    const r = await exec.write({
      type: "consumeSignal",
      runId: exec.runId,
      fence: exec.fence,
      seq: wait.seq,
      name: wait.name,
      signalName: wait.name,
      now,
    });
    if (r.ok && r.consumed) {
      exec.settleWait(wait, r.payload);
      return;
    }
    if (wait.wakeAt !== undefined && now >= wait.wakeAt) {
      const error: ErrorInfo = {
        name: "SignalTimeoutError",
        message: `no signal "${wait.name}" arrived in time`,
        code: "SIGNAL_TIMEOUT",
      };
      await exec.write({
        type: "putEntry",
        runId: exec.runId,
        fence: exec.fence,
        entry: {
          ...waitingEntry(wait.seq, "signal", wait.name, now, undefined),
          status: "failed",
          errorJson: JSON.stringify(error),
          detailJson: JSON.stringify({ timedOut: true }),
        },
      });
      exec.settleWait(wait, undefined, signalError(error));
    }
  }

  async task<T = unknown>(name: string, options: TaskOptions): Promise<T> {
    checkName(name, "task");
    if (typeof options?.queue !== "string" || !QUEUE_NAME.test(options.queue)) {
      throw new DirigentError(
        "INVALID_ARGUMENT",
        `task "${name}": queue must be 1-100 characters of letters, digits, . _ : -`,
      );
    }
    const exec = this.exec;
    const { seq, recorded } = exec.allocate("task", name);
    if (recorded?.status === "completed") return recorded.result as T;
    if (recorded?.status === "failed") throw new StepFailedError(name, recorded.error!);
    const taskId = `${exec.runId}:${seq}`;
    if (!recorded) {
      const now = exec.now;
      const policy = resolveRetryPolicy(options.retry, exec.stepDefaults);
      await exec.writeOpeningWait({
        type: "scheduleTask",
        runId: exec.runId,
        fence: exec.fence,
        entry: {
          ...waitingEntry(seq, "task", name, now, undefined),
          detailJson: JSON.stringify({ queue: options.queue, taskId }),
        },
        task: {
          taskId,
          queue: options.queue,
          runId: exec.runId,
          seq,
          name,
          inputJson: exec.encode(options.input, `input of task "${name}"`),
          priority: options.priority ?? 0,
          retryJson: JSON.stringify(policy),
          scheduleToStartAt:
            options.scheduleToStartMs === undefined ? undefined : now + options.scheduleToStartMs,
          startToCloseMs: options.startToCloseMs ?? DEFAULT_START_TO_CLOSE_MS,
          heartbeatTimeoutMs: options.heartbeatTimeoutMs,
          traceparent: exec.host.traceparent({
            kind: "task",
            runId: exec.runId,
            workflow: exec.def.name,
            fence: exec.fence,
            seq,
            name,
            attempt: 0,
            queue: options.queue,
          }),
          now,
        },
      });
      exec.host.notifyQueue(options.queue);
    }
    return (await exec.addWait({ seq, kind: "task", name })) as T;
  }

  /** Resolution of a task wait: the worker's outcome was written straight into the journal entry. */
  async resolveTask(wait: Wait): Promise<void> {
    const exec = this.exec;
    const entry = await exec.host.store.getEntry(exec.runId, wait.seq);
    if (entry?.status === "completed") exec.settleWait(wait, entry.result);
    else if (entry?.status === "failed")
      exec.settleWait(wait, undefined, new StepFailedError(wait.name, entry.error!));
  }

  async child<I, O>(
    target: WorkflowDefinition<I, O> | string,
    input: I,
    options: ChildOptions = {},
  ): Promise<O> {
    const exec = this.exec;
    const workflowName = typeof target === "string" ? target : target.name;
    const { seq, recorded } = exec.allocate("child", workflowName);
    if (recorded?.status === "completed") return recorded.result as O;
    if (recorded?.status === "failed") throw childError(recorded.error!, workflowName);
    const childRunId = recorded?.detail?.childRunId ?? options.runId ?? `${exec.runId}:${seq}`;
    if (!recorded) {
      const def = typeof target === "string" ? exec.host.resolveWorkflow(target) : target;
      if (!def)
        throw new DirigentError("WORKFLOW_NOT_FOUND", `child workflow "${workflowName}" is not registered`);
      const now = exec.now;
      const claimedAt = exec.host.monotonicNow();
      const inputJson = exec.encode(input, `input of child "${workflowName}"`);
      const claim = exec.host.hasCapacity()
        ? { nodeId: exec.host.nodeId, leaseMs: exec.host.leaseMs }
        : undefined;
      const deadlineAt = def.options.runTimeoutMs ? now + def.options.runTimeoutMs : undefined;
      const r = await exec.writeOpeningWait({
        type: "startChild",
        runId: exec.runId,
        fence: exec.fence,
        entry: {
          ...waitingEntry(seq, "child", workflowName, now, undefined),
          detailJson: JSON.stringify({ childRunId, childWorkflow: workflowName }),
        },
        child: {
          runId: childRunId,
          workflow: def.name,
          version: def.version,
          inputJson,
          parentRunId: exec.runId,
          parentSeq: seq,
          deadlineAt,
          now,
        },
        claim,
      });
      if (r.ok && r.created) {
        exec.host.events.emit("run:created", { runId: childRunId, workflow: def.name });
        if (claim) exec.host.launch(childRunId, def, input, deadlineAt, exec.runId, claimedAt);
      }
    }
    const retries = recorded?.detail?.retries;
    return (await exec.addWait({ seq, kind: "child", name: workflowName, childRunId, retries })) as O;
  }

  /** Resolution of a child wait: once the child run has finished, record and hand over its outcome. */
  async resolveChild(wait: Wait, now: number): Promise<void> {
    const exec = this.exec;
    const child = await exec.host.store.getRun(wait.childRunId!);
    if (!child) {
      const error = {
        name: "DirigentError",
        message: `child run ${wait.childRunId} not found`,
        code: "RUN_NOT_FOUND",
      };
      await this.recordChild(wait, now, "failed", undefined, error);
      exec.settleWait(wait, undefined, childError(error, wait.name));
      return;
    }
    if (child.status === "completed") {
      await this.recordChild(wait, now, "completed", child.output);
      exec.settleWait(wait, child.output);
    } else if (child.status === "failed" || child.status === "cancelled" || child.status === "terminated") {
      const error = child.error ?? { name: "Error", message: `child run ${child.status}` };
      await this.recordChild(wait, now, "failed", undefined, error);
      exec.settleWait(wait, undefined, childError(error, wait.name));
    }
  }

  private async recordChild(
    wait: Wait,
    now: number,
    status: "completed" | "failed",
    output: unknown,
    error?: ErrorInfo,
  ): Promise<void> {
    const exec = this.exec;
    await exec.write({
      type: "putEntry",
      runId: exec.runId,
      fence: exec.fence,
      entry: {
        ...waitingEntry(wait.seq, "child", wait.name, now, undefined),
        status,
        resultJson: output === undefined ? null : JSON.stringify(output),
        errorJson: error ? JSON.stringify(error) : null,
        detailJson: JSON.stringify({
          childRunId: wait.childRunId,
          childWorkflow: wait.name,
          ...(wait.retries ? { retries: wait.retries } : {}),
        }),
      },
    });
  }

  now(): number {
    return this.recordValue("now", () => this.exec.now);
  }

  random(): number {
    if (this.exec.codeAbandoned) throw new DirigentError("RUN_CANCELLED", "run is ending");
    return this.exec.random();
  }

  uuid(): string {
    return this.recordValue("uuid", () => uuidv7());
  }

  /** A value drawn once and journaled; the write is not awaited (a later awaited write orders after it). */
  private recordValue<T>(kind: "now" | "uuid", draw: () => T): T {
    const exec = this.exec;
    const { seq, recorded } = exec.allocate(kind, kind);
    if (recorded) return recorded.result as T;
    const value = draw();
    const now = exec.now;
    exec.writeLater({
      type: "putEntry",
      runId: exec.runId,
      fence: exec.fence,
      entry: {
        ...waitingEntry(seq, kind, kind, now, undefined),
        status: "completed",
        resultJson: JSON.stringify(value),
      },
    });
    return value;
  }
}

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const DEFAULT_START_TO_CLOSE_MS = 5 * 60_000;

function checkName(name: unknown, what: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > 200 || hasUnstorableCharacters(name)) {
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `${what} name must be a non-empty string of at most 200 characters, without NUL or unpaired surrogates`,
    );
  }
}

function signalError(info: ErrorInfo): Error {
  return new DirigentError("SIGNAL_TIMEOUT", info.message, info.details);
}

function childError(info: ErrorInfo, workflowName: string): Error {
  const err = new DirigentError("CHILD_FAILED", `child workflow "${workflowName}" failed: ${info.message}`, {
    cause: info,
  });
  (err as any).cause = fromErrorInfo(info);
  return err;
}
