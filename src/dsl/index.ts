// The declarative workflow language: parse and validate YAML/JSON definitions, compile them onto the
// engine, deploy and version them, and draw them as graphs. Named exports only.
export { type CheckProblem, checkDefinition } from "./check.js";
export {
  type DefinitionIssue,
  type DefinitionLocation,
  type DslErrorCode,
  dslError,
  formatPath,
  invalidDefinition,
} from "./errors.js";
export {
  compileCondition,
  compileExpression,
  compileTemplate,
  DEFAULT_LIMITS,
  type EvalEnv,
  type Expr,
  type ExpressionLimits,
  ExpressionSyntaxError,
  evaluate,
  evaluateExpr,
  type Template,
} from "./expressions.js";
export {
  type DefinitionGraph,
  definitionGraph,
  type GraphEdge,
  type GraphNode,
  type GraphNodeKind,
} from "./graph.js";
export { traceparent } from "./http.js";
export {
  type CompileOptions,
  compileDefinition,
  MAX_FOREACH_ITEMS,
  type TaskCompensationRunner,
} from "./interpreter.js";
export {
  MAX_NESTING,
  MAX_SOURCE_CHARS,
  type ParsedDefinition,
  type ParseOptions,
  parseDefinition,
} from "./parse.js";
export {
  type DeployOptions,
  type DeployResult,
  type DslEngineOptions,
  deployDefinition,
  deployFile,
  getDefinition,
  type LoadResult,
  listDefinitions,
  loadDefinitions,
  TASK_COMPENSATION_WORKFLOW,
  taskCompensationRunner,
} from "./registry.js";
export {
  type DslDocument,
  type DslStep,
  definitionSchema,
  dslJsonSchema,
  STEP_KINDS,
  type StepKind,
} from "./schema.js";
export {
  combineSecrets,
  noSecrets,
  type SecretResolver,
  secretsFromEnv,
  secretsFromFile,
} from "./secrets.js";
