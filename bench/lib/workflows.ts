import { workflow } from "../../src/runtime/workflow.js";

/** Three trivial steps: the cost measured is the engine's own (journal commits, scheduling). */
export const threeSteps = workflow("bench-three-steps", async (ctx, n: number) => {
  const a = await ctx.step("a", () => n + 1);
  const b = await ctx.step("b", () => a + 1);
  const c = await ctx.step("c", () => b + 1);
  return c;
});
