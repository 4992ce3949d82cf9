// What the engine tells observers about the runs it executes: every event carries what an observer
// needs (the claim, the attempt's fence and start), Engine.inFlight lists the attempts in flight, and a
// run the node lets go of without suspending or finishing it is reported once, with its open attempts.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { EngineEventMap, StepAttempt } from "../../src/runtime/events.js";
import { workflow } from "../../src/runtime/workflow.js";
import { deferred, eventually, type Harness, harness, untilStatus } from "../helpers/harness.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const gate = () => deferred<string>();

describe("observed runs", () => {
  it("describes each attempt and claim in its events, so observers keep nothing per run", async () => {
    const steps = workflow("o-two", async (ctx) => {
      await ctx.step("a", () => 1);
      await ctx.sleep("nap", 1_000);
      return ctx.step("b", () => 2);
    });
    h = await harness([steps]);
    const seen: { type: string; e: unknown }[] = [];
    for (const type of [
      "run:claimed",
      "run:suspended",
      "run:finished",
      "step:started",
      "step:completed",
    ] as const) {
      h.engine.events.on(type, (e) => seen.push({ type, e }));
    }
    const before = performance.timeOrigin + performance.now();
    await h.client.start("o-two", null, { runId: "o-1" });
    await untilStatus(h, "o-1", "waiting");
    await h.clock.advance(1_000);
    await untilStatus(h, "o-1", "completed");

    const of = <K extends keyof EngineEventMap>(type: K) =>
      seen.filter((s) => s.type === type).map((s) => s.e as EngineEventMap[K]);
    const [first, second] = of("run:claimed");
    assert.deepEqual([first.fence, first.replay, first.resumed], [1, false, false]);
    assert.ok(first.claimedAt >= before && first.claimedAt <= Date.now() + 1, "claimedAt is wall-clock time");
    // The claim that ended: run:suspended and run:finished carry it as it was emitted.
    assert.equal(of("run:suspended")[0].claim, first);
    assert.equal(of("run:suspended")[0].workflow, "o-two");
    assert.equal(second.fence, 2);
    assert.equal(of("run:finished")[0].claim, second);

    const started = of("step:started");
    const completed = of("step:completed");
    assert.deepEqual(
      started.map((s) => [s.workflow, s.name, s.seq, s.fence, s.attempt]),
      [
        ["o-two", "a", 0, 1, 1],
        ["o-two", "b", 2, 2, 1],
      ],
    );
    for (const [i, c] of completed.entries()) {
      assert.equal(c.startedAt, started[i].startedAt, "the end event repeats the attempt's start");
      assert.equal(c.fence, started[i].fence);
      assert.ok(c.durationMs >= 0);
    }
    assert.equal(h.engine.inFlight("o-1"), undefined, "a finished run is not in flight");
  });

  it("lists the attempts in flight, and reports them once when the engine stops and lets the run go", async () => {
    const hold = gate();
    const hangs = workflow("o-hang", async (ctx) => {
      await ctx.step("prepare", () => 1);
      return ctx.step("wait", () => hold.promise);
    });
    h = await harness([hangs]);
    const released: EngineEventMap["run:released"][] = [];
    h.engine.events.on("run:released", (e) => released.push(e));
    await h.client.start("o-hang", null, { runId: "o-2" });
    await eventually(() => h!.engine.inFlight("o-2")?.attempts[0]?.name === "wait", "the attempt to start");

    const inFlight = h.engine.inFlight("o-2")!;
    assert.equal(inFlight.claim.fence, 1);
    assert.deepEqual(
      inFlight.attempts.map((a: StepAttempt) => [a.runId, a.workflow, a.name, a.seq, a.fence, a.attempt]),
      [["o-2", "o-hang", "wait", 1, 1, 1]],
    );
    assert.deepEqual(
      h.engine.runsInFlight().map((r) => r.claim.runId),
      ["o-2"],
    );

    await h.engine.stop({ graceMs: 0 });
    assert.equal(released.length, 1);
    assert.equal(released[0].cause, "engine-stopping");
    assert.equal(released[0].claim, inFlight.claim);
    assert.deepEqual(released[0].attempts, inFlight.attempts);
    assert.deepEqual(h.engine.runsInFlight(), []);
    hold.resolve("late");
  });

  it("releases nothing for a run that was suspended here when the engine stops: its claim ended then", async () => {
    const naps = workflow("o-nap", async (ctx) => {
      await ctx.step("a", () => 1);
      await ctx.sleep("nap", 60_000);
    });
    h = await harness([naps]);
    const released: unknown[] = [];
    const suspended: unknown[] = [];
    h.engine.events.on("run:released", (e) => released.push(e));
    h.engine.events.on("run:suspended", (e) => suspended.push(e));
    await h.client.start("o-nap", null, { runId: "o-4" });
    await untilStatus(h, "o-4", "waiting");
    await eventually(() => suspended.length === 1, "the run to suspend here");
    await h.engine.stop({ graceMs: 0 });
    assert.deepEqual(released, []);
  });

  it("ends a terminated run's claim with run:finished, not run:released", async () => {
    const hold = gate();
    const hangs = workflow("o-term", async (ctx) => ctx.step("wait", () => hold.promise));
    h = await harness([hangs]);
    const released: unknown[] = [];
    const finished: EngineEventMap["run:finished"][] = [];
    h.engine.events.on("run:released", (e) => released.push(e));
    h.engine.events.on("run:finished", (e) => finished.push(e));
    await h.client.start("o-term", null, { runId: "o-3" });
    await eventually(() => h!.engine.inFlight("o-3")?.attempts.length === 1, "the attempt to start");
    const { claim } = h.engine.inFlight("o-3")!;

    await h.engine.terminate("o-3");
    assert.deepEqual(released, []);
    assert.equal(finished.length, 1);
    assert.equal(finished[0].status, "terminated");
    assert.equal(finished[0].claim, claim);
    hold.resolve("late");
  });
});
