// `workflow cancel|terminate --filter-status ... --filter-workflow ... [--yes]`: every run a filter
// selects. Without --yes nothing is changed: the runs that would be are listed, and the command fails.
import type { DirigentClient } from "../../client/client.js";
import { DirigentError, isDirigentError } from "../../core/errors.js";
import type { RunRecord, RunStatus } from "../../core/types.js";
import { c } from "../colors.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../errors.js";
import { colorStatus, formatError, runListTable, table } from "../format.js";
import { DEFAULT_WAIT_MS } from "./shared.js";

export const BULK_HELP = {
  status: "select the runs with these statuses (comma-separated; default: pending,running,waiting)",
  workflow: "select the runs of this workflow",
  yes: "really change the selected runs (without it, only list them)",
};

/** Runs a filter may select when it names no status: the ones that can still be stopped. */
const ACTIVE: RunStatus[] = ["pending", "running", "waiting"];
/** Most runs one bulk command changes; a larger selection is refused (narrow the filter). */
export const MAX_BULK_RUNS = 10_000;
/** Requests in flight at once while changing runs. */
const PARALLEL = 8;

export interface BulkOptions {
  filterStatus?: RunStatus[];
  filterWorkflow?: string;
  yes?: boolean;
  waitMs?: number;
  reason?: string;
}

export function hasFilter(opts: BulkOptions): boolean {
  return opts.filterStatus !== undefined || opts.filterWorkflow !== undefined;
}

interface Outcome {
  runId: string;
  workflow: string;
  ok: boolean;
  status?: RunStatus;
  error?: { code: string; message: string };
}

/** Every run the filter selects, oldest pages last (the store lists newest first). */
async function selectRuns(client: DirigentClient, opts: BulkOptions): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.list({
      status: opts.filterStatus ?? ACTIVE,
      workflow: opts.filterWorkflow,
      limit: 1_000,
      cursor,
    });
    runs.push(...page.runs);
    cursor = page.nextCursor;
    if (runs.length > MAX_BULK_RUNS) {
      throw new DirigentError(
        "INVALID_ARGUMENT",
        `the filter selects more than ${MAX_BULK_RUNS} runs; narrow it with --filter-status / --filter-workflow`,
      );
    }
  } while (cursor);
  return runs;
}

export async function bulkAction(
  ctx: CliContext,
  action: "cancel" | "terminate",
  opts: BulkOptions,
): Promise<void> {
  if (!hasFilter(opts)) {
    throw new UsageError(
      `give the run id to ${action}, or select runs with --filter-status and/or --filter-workflow`,
    );
  }
  const verb = `workflow ${action}`;
  // Cancelling runs compensations: in local mode this process executes them (--module).
  const need = opts.yes && action === "cancel" ? "execute" : "read";
  await ctx.withSession(need, verb, async (session) => {
    const runs = await selectRuns(session.client, opts);
    const what = action === "cancel" ? "cancelled" : "terminated";
    if (!opts.yes) {
      if (runs.length === 0) {
        ctx.out.result({ action, matched: 0, runs: [] }, () => "no runs match the filter", []);
        return;
      }
      const message = `${runs.length} run${runs.length === 1 ? "" : "s"} would be ${what}; nothing was changed: add --yes to ${action} ${runs.length === 1 ? "it" : "them"}`;
      const error = { code: "INVALID_ARGUMENT", message };
      const summaries = runs.map((r) => ({ runId: r.runId, workflow: r.workflow, status: r.status }));
      // json: one document (the runs and the refusal); jsonl: the runs, then the error line.
      ctx.out.result(
        { action, matched: runs.length, runs: summaries, error },
        () => runListTable(runs),
        summaries,
      );
      if (ctx.out.format !== "json") ctx.out.error(new UsageError(message));
      ctx.exitCode = 1;
      return;
    }
    const outcomes: Outcome[] = [];
    for (let i = 0; i < runs.length; i += PARALLEL) {
      const batch = runs.slice(i, i + PARALLEL);
      outcomes.push(
        ...(await Promise.all(
          batch.map(async (run): Promise<Outcome> => {
            try {
              if (action === "cancel") await session.client.cancel(run.runId);
              else await session.client.terminate(run.runId, opts.reason);
              return { runId: run.runId, workflow: run.workflow, ok: true };
            } catch (error) {
              const code = isDirigentError(error) ? error.code : "INTERNAL";
              return {
                runId: run.runId,
                workflow: run.workflow,
                ok: false,
                error: { code, message: String((error as Error).message) },
              };
            }
          }),
        )),
      );
    }
    // Local mode: execute the cancellations (compensations) before reporting.
    await session.settle(opts.waitMs ?? DEFAULT_WAIT_MS);
    for (const o of outcomes) {
      if (o.ok) o.status = (await session.client.describe(o.runId).catch(() => undefined))?.status;
    }
    const failed = outcomes.filter((o) => !o.ok).length;
    if (failed > 0) ctx.exitCode = 1;
    ctx.out.result(
      { action, matched: runs.length, accepted: outcomes.length - failed, failed, runs: outcomes },
      () => bulkTable(outcomes, action === "cancel" ? "cancel requested" : "terminated"),
      outcomes,
    );
  });
}

function bulkTable(outcomes: Outcome[], done: string): string {
  if (outcomes.length === 0) return "no runs match the filter";
  const t = table(["RUN ID", "WORKFLOW", "RESULT", "STATUS"]);
  for (const o of outcomes) {
    t.push([
      o.runId,
      o.workflow,
      o.ok ? c.green(done) : c.red(formatError({ name: "Error", ...o.error! })),
      o.status ? colorStatus(o.status) : "",
    ]);
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  const summary = `${outcomes.length - failed} ${done}${failed > 0 ? `, ${failed} failed` : ""}`;
  return `${t.toString()}\n${summary}`;
}
