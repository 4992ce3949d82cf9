// Helpers for testing workflows: a clock that moves only when told.
export { settle, TestClock } from "./test-clock.js";
