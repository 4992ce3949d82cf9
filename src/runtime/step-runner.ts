import { DirigentError, StepFailedError, toErrorInfo } from "../core/errors.js";
import { attemptsBeforeRound, decideRetry, type RetryPolicy } from "../core/retry.js";
import type { EntryDetail, JournalEntry } from "../core/types.js";
import type { EncodedEntry } from "../store/store.js";
import { Abandoned } from "./abandon.js";
import type { StepInfo } from "./context.js";
import type { EngineEvents, StepAttempt } from "./events.js";
import type { RunExecution } from "./execution.js";
import { preciseNow } from "./precise-time.js";

export interface StepSpec<T> {
  seq: number;
  kind: "step" | "undo";
  name: string;
  fn: (info: StepInfo) => Promise<T> | T;
  policy: RetryPolicy;
  timeoutMs?: number;
  recorded?: JournalEntry;
  /** Compensation steps run after the user code was stopped; they stop only if the run is lost. */
  internal: boolean;
  detail?: EntryDetail;
}

/**
 * Execute a journaled step: return the recorded outcome if there is one, otherwise run attempts until
 * one succeeds or the retry policy gives up. Every outcome (success, failure, the next attempt's due
 * time) is committed before the code continues, so a crash repeats at most the attempt in flight, and
 * a backoff in progress survives a restart (the run suspends until the next attempt is due).
 */
export async function runStep<T>(exec: RunExecution, spec: StepSpec<T>): Promise<T> {
  const { recorded, seq, name } = spec;
  if (recorded?.status === "completed") return recorded.result as T;
  if (recorded?.status === "failed") throw new StepFailedError(name, recorded.error!);
  // After a retry of the run, attempt numbers go on from the recorded ones, in a new retry round
  // (`retries` in the entry's detail, kept on every write of the entry).
  let attempt = recorded?.attempt ?? 0;
  const roundStart = attemptsBeforeRound(recorded?.detail);
  const retries = recorded?.detail?.retries;
  const stepDetail = retries ? { ...spec.detail, retries } : spec.detail;
  const firstStartedAt = recorded?.startedAt ?? exec.now;
  if (recorded?.status === "retrying" && recorded.wakeAt !== undefined) {
    await exec.addWait({ seq, kind: "retry", name, wakeAt: recorded.wakeAt });
  }
  const idempotencyKey = `${exec.runId}:${seq}`;
  const events = exec.host.events;
  const observed = stepsObserved(events);
  for (;;) {
    attempt++;
    const startedAt = exec.now;
    // For observers (span times), taken only if they listen; the attempt runs under this claim.
    const observedAt = observed ? preciseNow() : 0;
    const fence = exec.fence;
    /** The attempt as observers are told of it (its span derives from these fields alone). */
    const described = (): StepAttempt => ({
      runId: exec.runId,
      workflow: exec.def.name,
      fence,
      seq,
      name,
      attempt,
      startedAt: observedAt,
    });
    exec.stepStarted();
    let busy = true;
    const done = () => {
      if (busy) exec.stepEnded();
      busy = false;
      if (observed) exec.attempts.delete(seq);
    };
    try {
      if (observed) {
        exec.attempts.set(seq, name, attempt, fence, observedAt);
        if (events.has("step:started")) events.emit("step:started", described());
      }
      let value: T | undefined;
      let failure: unknown;
      let ok = false;
      try {
        value = await runAttempt(exec, spec, { attempt, idempotencyKey, runId: exec.runId, seq });
        ok = true;
      } catch (err) {
        failure = err;
      }
      if (exec.state === "lost") throw new Abandoned();
      let resultJson: string | null = null;
      if (ok) {
        try {
          resultJson = exec.encode(value, `result of step "${name}"`);
        } catch (err) {
          ok = false;
          failure = err;
        }
      }
      const base = { seq, kind: spec.kind, name, attempt, startedAt: firstStartedAt };
      if (ok) {
        const detail = attempt > 1 || stepDetail ? { ...stepDetail, attemptStartedAt: startedAt } : undefined;
        await exec.write(putEntry(exec, { ...base, status: "completed", resultJson, detail }));
        if (observed) {
          done();
          // Spelled out, not spread from described(): this is every step's path.
          events.emit("step:completed", {
            runId: exec.runId,
            workflow: exec.def.name,
            fence,
            seq,
            name,
            attempt,
            startedAt: observedAt,
            durationMs: exec.now - startedAt,
          });
        }
        return value as T;
      }
      // A failed attempt of user code whose run is ending is not retried: the ending wins.
      if (exec.codeAbandoned && !spec.internal) throw new Abandoned();
      const error = toErrorInfo(failure, { withStack: true });
      const tooLarge = (failure as DirigentError | undefined)?.code === "PAYLOAD_TOO_LARGE";
      if (tooLarge) error.terminal = true;
      const decision = tooLarge
        ? ({ retry: false, reason: "terminal" } as const)
        : decideRetry(spec.policy, attempt - roundStart, failure, exec.host.random());
      const failedAttempt = {
        seq,
        attempt,
        startedAt,
        endedAt: exec.now,
        errorJson: JSON.stringify(error),
        node: exec.host.nodeId,
      };
      if (!decision.retry) {
        await exec.write(
          putEntry(exec, { ...base, status: "failed", error, detail: stepDetail }, { failedAttempt }),
        );
        if (observed) {
          done();
          events.emit("step:failed", { ...described(), durationMs: exec.now - startedAt, error });
        }
        throw new StepFailedError(name, error);
      }
      const wakeAt = exec.now + decision.delayMs;
      await exec.write(
        putEntry(exec, { ...base, status: "retrying", error, wakeAt, detail: stepDetail }, { failedAttempt }),
      );
      done();
      if (observed) {
        events.emit("step:retrying", {
          ...described(),
          durationMs: exec.now - startedAt,
          delayMs: decision.delayMs,
          error,
        });
      }
      await exec.addWait({ seq, kind: "retry", name, wakeAt });
    } finally {
      done();
    }
  }
}

function putEntry(
  exec: RunExecution,
  e: Omit<EncodedEntry, "resultJson" | "errorJson" | "detailJson" | "updatedAt"> & {
    resultJson?: string | null;
    error?: unknown;
    detail?: unknown;
  },
  extra: {
    failedAttempt?: { seq: number; attempt: number; startedAt: number; endedAt: number; errorJson: string };
  } = {},
) {
  const entry: EncodedEntry = {
    seq: e.seq,
    kind: e.kind,
    name: e.name,
    status: e.status,
    attempt: e.attempt,
    resultJson: e.resultJson ?? null,
    errorJson: e.error === undefined ? null : JSON.stringify(e.error),
    wakeAt: e.wakeAt,
    detailJson: e.detail === undefined ? null : JSON.stringify(e.detail),
    startedAt: e.startedAt,
    updatedAt: exec.now,
  };
  return {
    type: "putEntry" as const,
    runId: exec.runId,
    fence: exec.fence,
    entry,
    failedAttempt: extra.failedAttempt,
  };
}

/** One attempt, bounded by the per-attempt timeout and stopped by the run's abort signal. */
function runAttempt<T>(
  exec: RunExecution,
  spec: StepSpec<T>,
  info: Omit<StepInfo, "signal" | "traceparent">,
): Promise<T> {
  const parent = spec.internal ? exec.lostController.signal : exec.codeController.signal;
  const clock = exec.host.clock;
  return new Promise<T>((resolve, reject) => {
    if (parent.aborted) {
      reject(parent.reason);
      return;
    }
    let signal = parent;
    let controller: AbortController | undefined;
    const onParentAbort = () => {
      controller?.abort(parent.reason);
      reject(parent.reason);
    };
    parent.addEventListener("abort", onParentAbort, { once: true });
    let timer: ReturnType<typeof clock.setTimeout> | undefined;
    if (spec.timeoutMs !== undefined) {
      controller = new AbortController();
      signal = controller.signal;
      timer = clock.setTimeout(() => {
        const err = new DirigentError(
          "STEP_TIMEOUT",
          `step "${spec.name}" attempt ${info.attempt} timed out after ${spec.timeoutMs} ms`,
        );
        controller!.abort(err);
        reject(err);
      }, spec.timeoutMs);
    }
    Promise.resolve()
      .then(() =>
        spec.fn({
          ...info,
          signal,
          // Asked of the tracing hook only when a step makes a call that carries it.
          get traceparent() {
            return exec.host.traceparent({
              kind: "http",
              runId: exec.runId,
              workflow: exec.def.name,
              fence: exec.fence,
              seq: info.seq,
              name: spec.name,
              attempt: info.attempt,
            });
          },
        }),
      )
      .then(resolve, reject)
      .finally(() => {
        if (timer) clock.clearTimeout(timer);
        parent.removeEventListener("abort", onParentAbort);
      });
  });
}

/** Whether anyone listens to step events (then attempts are described to them and kept in flight). */
function stepsObserved(events: EngineEvents): boolean {
  return (
    events.has("step:started") ||
    events.has("step:completed") ||
    events.has("step:retrying") ||
    events.has("step:failed") ||
    events.has("run:released")
  );
}
