// Helpers shared by the parts of the store contract: small builders of operations on the store under test.
import assert from "node:assert/strict";
import type { RunRecord } from "../../src/core/types.js";
import type { EncodedEntry, NewRun, Store, WriteOp, WriteResult } from "../../src/store/store.js";

/** A fixed clock: 2026-01-01T00:00:00Z, well past 2^31 so epoch-ms columns must be 64-bit. */
export const T0 = Date.UTC(2026, 0, 1);
export const LEASE = 30_000;

export type ContractHelpers = ReturnType<typeof contractHelpers>;

/** Builders bound to the store of the current test (`current()` changes from test to test). */
export function contractHelpers(current: () => Store) {
  const one = async (op: WriteOp): Promise<WriteResult> => {
    const results = await current().write([op]);
    assert.equal(results.length, 1);
    return results[0];
  };

  const newRun = (runId: string, over: Partial<NewRun> = {}): NewRun => ({
    runId,
    workflow: "wf",
    version: "1",
    inputJson: JSON.stringify({ id: runId }),
    now: T0,
    ...over,
  });

  /** Create a run; with `node`, claimed by it at once (fence 1). */
  const create = async (runId: string, over: Partial<NewRun> = {}, node?: string) => {
    const r = await one({
      type: "createRun",
      run: newRun(runId, over),
      claim: node ? { nodeId: node, leaseMs: LEASE } : undefined,
    });
    assert.deepEqual(r, { ok: true, created: true });
  };

  const getRun = async (runId: string): Promise<RunRecord> => {
    const run = await current().getRun(runId);
    assert.ok(run, `run ${runId} exists`);
    return run;
  };

  const entry = (seq: number, over: Partial<EncodedEntry> = {}): EncodedEntry => ({
    seq,
    kind: "step",
    name: `step-${seq}`,
    status: "completed",
    attempt: 1,
    resultJson: JSON.stringify({ seq }),
    errorJson: null,
    detailJson: null,
    startedAt: T0,
    updatedAt: T0,
    ...over,
  });

  const put = (runId: string, fence: number, e: EncodedEntry) =>
    one({ type: "putEntry", runId, fence, entry: e });

  const complete = (runId: string, fence: number, now = T0, outputJson: string | null = '"done"') =>
    one({ type: "completeRun", runId, fence, status: "completed", outputJson, now });

  const suspend = (runId: string, fence: number, wakeAt?: number, now = T0) =>
    one({ type: "suspendRun", runId, fence, wakeAt, now });

  const deliver = (runId: string, name: string, payload: unknown, now = T0) =>
    one({
      type: "deliverSignal",
      runId,
      name,
      payloadJson: payload === undefined ? null : JSON.stringify(payload),
      now,
    });

  const consume = (
    runId: string,
    fence: number,
    seq: number,
    signalName: string,
    over: Partial<WriteOp> = {},
  ) =>
    one({
      type: "consumeSignal",
      runId,
      fence,
      seq,
      name: `wait-${seq}`,
      signalName,
      now: T0,
      ...over,
    } as WriteOp);

  const claimAll = (nodeId: string, now: number, limit = 100) =>
    current().claimRuns({ nodeId, limit, leaseMs: LEASE, now });

  /** Assert the given fields of a run (undefined means absent). */
  const expectRun = (run: RunRecord, expected: Partial<RunRecord>) => {
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(run[key as keyof RunRecord], value, `run ${run.runId}: ${key}`);
    }
  };

  return {
    store: current,
    one,
    newRun,
    create,
    getRun,
    entry,
    put,
    complete,
    suspend,
    deliver,
    consume,
    claimAll,
    expectRun,
  };
}
