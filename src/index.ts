// Public API of Dirigent. Named exports only; testing helpers live in "dirigent/testing".
export type {
  DirigentClient,
  HistoryEvent,
  RunHistory,
  StartOptions,
  StartResult,
  WorkflowInfo,
} from "./client/client.js";
export { LocalClient } from "./client/local-client.js";
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
export type {
  ChildOptions,
  SignalOptions,
  StepInfo,
  StepOptions,
  WorkflowContext,
} from "./runtime/context.js";
export { createEngine, Engine } from "./runtime/engine.js";
export type { EngineEventMap } from "./runtime/events.js";
export type { EngineOptions } from "./runtime/options.js";
export { type WorkflowDefinition, type WorkflowOptions, workflow } from "./runtime/workflow.js";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite/sqlite-store.js";
export type { Store } from "./store/store.js";
