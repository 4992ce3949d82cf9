// Entry of the tracing worker thread. A worker thread does not inherit the TypeScript loader of the
// thread that started it, so when Dirigent runs from its .ts sources (tsx) this registers the loader
// in the worker before importing the worker's module; from compiled .js it imports it directly.
import { workerData } from "node:worker_threads";

if (workerData.entry.endsWith(".ts")) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import(workerData.entry);
