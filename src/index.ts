// Public API of Dirigent. Named exports only; testing helpers live in "dirigent/testing".
export type {
  DirigentClient,
  HistoryEvent,
  RunHistory,
  StartOptions,
  StartResult,
  WorkflowInfo,
} from "./client/client.js";
export { HttpClient } from "./client/http-client.js";
export { LocalClient } from "./client/local-client.js";
export {
  createWorker,
  type TaskContext,
  TaskFailure,
  type Worker,
  type WorkerOptions,
  type WorkerTask,
} from "./client/worker.js";
export {
  DirigentError,
  ERROR_CODES,
  type ErrorCode,
  httpStatusFor,
  isDirigentError,
  NondeterminismError,
  RetryableError,
  StepFailedError,
  TerminalError,
} from "./core/errors.js";
export type { RetryPolicy } from "./core/retry.js";
export type { ErrorInfo, JournalEntry, RunFilter, RunPage, RunRecord, RunStatus } from "./core/types.js";
export {
  deployDefinition,
  deployFile,
  loadDefinitions,
  secretsFromEnv,
  secretsFromFile,
} from "./dsl/index.js";
export type {
  ChildOptions,
  HttpRequestSpec,
  HttpResponse,
  SignalOptions,
  StepInfo,
  StepOptions,
  TaskOptions,
  WorkflowContext,
} from "./runtime/context.js";
export { createEngine, Engine } from "./runtime/engine.js";
export type { EngineEventMap, ReleaseCause, RunClaim, StepAttempt } from "./runtime/events.js";
export type { RunInFlight } from "./runtime/held-runs.js";
export type { EngineOptions } from "./runtime/options.js";
export type { ScheduleSpec } from "./runtime/schedules.js";
export type { LeasedTask, TaskFailure as TaskFailureReport } from "./runtime/task-queues.js";
export { type WorkflowDefinition, type WorkflowOptions, workflow } from "./runtime/workflow.js";
export { buildServer } from "./server/app.js";
export { startServer } from "./server/start.js";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite/sqlite-store.js";
export type { Store } from "./store/store.js";
