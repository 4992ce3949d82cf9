// The dashboard's pure view models: the as-ran graph of code workflows, the definition graph coloured
// by a run, and the timeline's bars. (The pages that draw them are tested in dashboard.test.ts.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { describeDelivery, describeRule, describeValue, sortAlerts } from "../../dashboard/src/lib/alerts.js";
import { eventSummary, eventTone } from "../../dashboard/src/lib/history-events.js";
import {
  asRanGraph,
  definitionRunGraph,
  nodeForEntry,
  parallelRanks,
} from "../../dashboard/src/lib/run-graph.js";
import { buildTimeline, ticks } from "../../dashboard/src/lib/timeline.js";
import type { AttemptRecord, JournalEntry, RunRecord } from "../../src/core/types.js";
import type { AlertView } from "../../src/observability/alerts/alerts.js";
import { resolveAlertsConfig } from "../../src/observability/alerts/rules.js";

const T = 1_767_225_600_000;

function run(over: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: "r1",
    workflow: "w",
    version: "1",
    status: "completed",
    input: null,
    fence: 1,
    cancelRequested: false,
    createdAt: T,
    startedAt: T,
    updatedAt: T + 1_000,
    completedAt: T + 1_000,
    ...over,
  };
}

function entry(
  seq: number,
  name: string,
  startedAt: number,
  updatedAt: number,
  over: Partial<JournalEntry> = {},
): JournalEntry {
  return { seq, kind: "step", name, status: "completed", attempt: 1, startedAt, updatedAt, ...over };
}

describe("as-ran graph", () => {
  it("chains sequential steps and puts steps that overlapped in time side by side", () => {
    const journal = [
      entry(0, "a", T, T + 10),
      entry(1, "b", T + 10, T + 50),
      entry(2, "c", T + 11, T + 40),
      entry(3, "d", T + 50, T + 60),
    ];
    assert.deepEqual(
      parallelRanks(journal).map((rank) => rank.map((e) => e.name)),
      [["a"], ["b", "c"], ["d"]],
    );
    const g = asRanGraph(run(), journal);
    const edges = g.edges.map((e) => `${e.from}>${e.to}`);
    assert.deepEqual(edges, [
      "start>seq-0",
      "seq-0>seq-1",
      "seq-0>seq-2",
      "seq-1>seq-3",
      "seq-2>seq-3",
      "seq-3>end",
    ]);
    assert.equal(g.nodes.find((n) => n.id === "end")?.status, "completed");
  });

  it("keeps a step that is still retrying open, hides bookkeeping entries, links child runs", () => {
    const journal = [
      entry(0, "now", T, T, { kind: "now" }),
      entry(1, "charge", T, T + 5, { status: "retrying", attempt: 2, wakeAt: T + 1_000 }),
      entry(2, "ship", T + 5, T + 6, {
        kind: "child",
        attempt: 0,
        status: "waiting",
        detail: { childRunId: "r1:2", childWorkflow: "shipping" },
      }),
    ];
    const g = asRanGraph(run({ status: "waiting", completedAt: undefined }), journal);
    assert.equal(
      g.nodes.some((n) => n.label === "now"),
      false,
    );
    const charge = g.nodes.find((n) => n.label === "charge")!;
    assert.equal(charge.status, "retrying");
    assert.equal(charge.attempts, 2);
    const child = g.nodes.find((n) => n.kind === "child")!;
    assert.equal(child.label, "shipping");
    assert.equal(child.childRunId, "r1:2");
    // The child started while the charge was still open (retrying): same rank.
    assert.equal(child.rank, charge.rank);
    assert.equal(g.nodes.find((n) => n.id === "end")?.label, "waiting…");
  });

  it("marks a failed step, and compensated steps with their undo hanging off them", () => {
    const journal = [
      entry(0, "charge", T, T + 5, { detail: { hasUndo: true } }),
      entry(1, "ship", T + 5, T + 9, {
        status: "failed",
        attempt: 3,
        error: { name: "Error", message: "no courier" },
      }),
      entry(2, "charge", T + 9, T + 10, { kind: "undo", detail: { compensates: 0 } }),
    ];
    const g = asRanGraph(run({ status: "failed" }), journal);
    assert.equal(g.nodes.find((n) => n.id === "seq-1")?.status, "failed");
    assert.equal(g.nodes.find((n) => n.id === "seq-1")?.errorMessage, "no courier");
    assert.equal(g.nodes.find((n) => n.id === "seq-0")?.status, "compensated");
    assert.ok(g.edges.some((e) => e.from === "seq-0" && e.to === "seq-2" && e.dashed));
    assert.equal(g.nodes.find((n) => n.id === "end")?.status, "failed");
  });

  it("joins two wide ranks through one node instead of every pair", () => {
    const wide = (seq0: number, at: number) =>
      Array.from({ length: 5 }, (_, i) => entry(seq0 + i, `s${seq0 + i}`, at + i, at + 100));
    const g = asRanGraph(run(), [...wide(0, T), ...wide(5, T + 200)]);
    assert.equal(g.nodes.filter((n) => n.kind === "join").length, 1);
    assert.ok(g.edges.length < 25);
  });
});

describe("definition graph of a run", () => {
  const graph = {
    nodes: [
      { id: "start", kind: "start", label: "start" },
      { id: "charge", kind: "http", label: "POST /charges" },
      { id: "items", kind: "forEach", label: "for each item" },
      { id: "pack", kind: "task", label: "task packing" },
      { id: "charge:compensate", kind: "compensate", label: "refund" },
      { id: "end", kind: "end", label: "end" },
    ],
    edges: [
      { from: "start", to: "charge" },
      { from: "charge", to: "items" },
      { from: "items", to: "pack", label: "each item" },
      { from: "charge", to: "charge:compensate", label: "compensate" },
      { from: "pack", to: "end" },
    ],
  };

  it("maps journal names (step id plus a scope suffix) to nodes, the worst status winning", () => {
    const ids = new Set(graph.nodes.map((n) => n.id));
    assert.equal(nodeForEntry("pack[1]", "task", ids), "pack");
    assert.equal(nodeForEntry("charge", "undo", ids), "charge:compensate");
    assert.equal(nodeForEntry("packing", "step", ids), undefined);
    const journal = [
      entry(0, "charge", T, T + 1, { attempt: 2 }),
      entry(1, "pack[0]", T + 1, T + 2),
      entry(2, "pack[1]", T + 1, T + 3, { status: "failed", error: { name: "Error", message: "jammed" } }),
    ];
    const g = definitionRunGraph(graph, run({ status: "failed" }), journal);
    const by = (id: string) => g.nodes.find((n) => n.id === id)!;
    assert.equal(by("charge").status, "completed");
    assert.equal(by("charge").attempts, 2);
    assert.equal(by("pack").status, "failed");
    assert.equal(by("pack").errorMessage, "jammed");
    assert.equal(by("items").status, "none");
    assert.equal(by("end").status, "none");
    assert.ok(g.edges.find((e) => e.label === "compensate")?.dashed);
  });
});

describe("timeline", () => {
  it("draws each failed attempt, the backoff before the next, and the attempt that succeeded", () => {
    const journal = [
      entry(0, "charge", T, T + 5_100, { attempt: 2, detail: { attemptStartedAt: T + 5_050 } as never }),
    ];
    const attempts: AttemptRecord[] = [
      {
        runId: "r1",
        seq: 0,
        attempt: 1,
        startedAt: T,
        endedAt: T + 50,
        error: { name: "Error", message: "timeout" },
      },
    ];
    const tl = buildTimeline(run({ completedAt: T + 5_200 }), journal, attempts, T + 10_000);
    const bars = tl.rows[0].segments.map((s) => [s.kind, s.start - T, s.end - T]);
    assert.deepEqual(bars, [
      ["attempt-failed", 0, 50],
      ["backoff", 50, 5_050],
      ["attempt-ok", 5_050, 5_100],
    ]);
    assert.equal(tl.start, T);
    assert.equal(tl.end, T + 5_200);
  });

  it("draws a retry still to come up to its due time, and open waits up to now", () => {
    const now = T + 1_000;
    const journal = [
      entry(0, "charge", T, T + 100, { status: "retrying", attempt: 1, wakeAt: T + 3_000 }),
      entry(1, "approval", T + 100, T + 100, { kind: "signal", attempt: 0, status: "waiting" }),
    ];
    const attempts: AttemptRecord[] = [
      {
        runId: "r1",
        seq: 0,
        attempt: 1,
        startedAt: T,
        endedAt: T + 100,
        error: { name: "Error", message: "x" },
      },
    ];
    const tl = buildTimeline(run({ status: "waiting", completedAt: undefined }), journal, attempts, now);
    const [retry, wait] = tl.rows;
    assert.deepEqual(
      retry.segments.map((s) => [s.kind, s.end - T, s.open ?? false]),
      [
        ["attempt-failed", 100, false],
        ["backoff", 3_000, true],
      ],
    );
    assert.deepEqual(
      wait.segments.map((s) => [s.kind, s.start - T, s.end - T, s.open]),
      [["wait", 100, 1_000, true]],
    );
    assert.equal(tl.end, T + 3_000, "the axis reaches the next attempt");
  });

  it("calls the gap before an attempt that a retry of the failed run started 'retried by user', not backoff", () => {
    const failedAttempt = (attempt: number, startedAt: number, endedAt: number): AttemptRecord => ({
      runId: "r1",
      seq: 0,
      attempt,
      startedAt,
      endedAt,
      error: { name: "Error", message: "down" },
    });
    // Attempts 1-2 failed (with a backoff between), the run failed; a retry at +60 s started attempt 3.
    const retries = [{ at: T + 60_000, afterAttempt: 2 }];
    const attempts = [failedAttempt(1, T, T + 10), failedAttempt(2, T + 1_010, T + 1_020)];
    const done = entry(0, "charge", T, T + 60_050, {
      attempt: 3,
      detail: { attemptStartedAt: T + 60_010, retries } as never,
    });
    const tl = buildTimeline(run({ completedAt: T + 60_100 }), [done], attempts, T + 70_000);
    assert.deepEqual(
      tl.rows[0].segments.map((s) => [s.kind, s.start - T, s.end - T]),
      [
        ["attempt-failed", 0, 10],
        ["backoff", 10, 1_010],
        ["attempt-failed", 1_010, 1_020],
        ["manual-retry", 1_020, 60_010],
        ["attempt-ok", 60_010, 60_050],
      ],
    );
    assert.match(tl.rows[0].segments[3].label, /retried by user before attempt 3/);

    // Reopened by the retry and not yet run again: still "retried by user", open, never "backoff".
    const reopened = entry(0, "charge", T, T + 60_000, {
      status: "retrying",
      attempt: 2,
      wakeAt: T + 60_000,
      detail: { retries } as never,
    });
    const open = buildTimeline(
      run({ status: "running", completedAt: undefined }),
      [reopened],
      attempts,
      T + 60_500,
    );
    const last = open.rows[0].segments.at(-1);
    assert.deepEqual(
      [last?.kind, last?.open, last?.start, last?.end],
      ["manual-retry", true, T + 1_020, T + 60_500],
    );
    assert.equal(last?.label, "retried by user: attempt 3 is due now");
  });

  it("picks round tick steps", () => {
    assert.deepEqual(ticks(0, 5_000), [0, 1_000, 2_000, 3_000, 4_000, 5_000]);
    assert.deepEqual(ticks(0, 57), [0, 10, 20, 30, 40, 50]);
  });
});

describe("event table", () => {
  it("shows a retry of the run with its own colour and says after which attempt", () => {
    const retried = {
      time: T,
      type: "run:retried" as const,
      seq: 0,
      name: "charge",
      detail: { afterAttempt: 2 },
    };
    assert.equal(eventTone(retried), "retried");
    assert.equal(eventSummary(retried, T), "retried by user after attempt 2: a new round of attempts");
    const css = readFileSync(new URL("../../dashboard/src/styles.css", import.meta.url), "utf8");
    assert.match(css, /\.s-retried \{[^}]*color: var\(--retried\)/, "the badge's colour is defined");
    assert.match(css, /\.tl-bar\.manual-retry \{/, "so is the timeline bar's");
    assert.equal(eventTone({ time: T, type: "run:finished", status: "failed" }), "failed");
    assert.equal(eventTone({ time: T, type: "step:attempt-failed" }), "retrying");
  });
});

describe("alerts in words", () => {
  it("says each kind of rule's condition, with its scope and durations", () => {
    const { rules } = resolveAlertsConfig({
      rules: [
        { name: "a", kind: "run_failed" },
        { name: "b", kind: "step_retries", retries: 3, workflow: "order", step: "charge" },
        { name: "c", kind: "run_stuck", status: "waiting", for: "2h", workflow: "order" },
        { name: "d", kind: "queue_age", maxAge: "5m", queue: "email" },
        { name: "e", kind: "failure_rate", percent: 5, window: "10m", minRuns: 20 },
      ],
    });
    assert.deepEqual(rules.map(describeRule), [
      "a run failed",
      "step charge of order failed 3 or more attempts and retries",
      "a run of order has been waiting for more than 2 h",
      "queue email: its oldest ready task waited more than 5 min",
      "more than 5 % of the runs failed in 10 min (at least 20 runs)",
    ]);
  });

  it("gives the measured value against the threshold in the rule's unit, and the deliveries", () => {
    assert.equal(describeValue({ kind: "run_failed" }), undefined);
    assert.equal(
      describeValue({ kind: "step_retries", value: 3, threshold: 2 }),
      "3 failed attempts (threshold 2)",
    );
    assert.equal(
      describeValue({ kind: "run_stuck", value: 7_500, threshold: 7_200 }),
      "for 2 h 5 min (threshold 2 h)",
    );
    assert.equal(
      describeValue({ kind: "failure_rate", value: 12.5, threshold: 5 }),
      "12.5 % failed (threshold 5 %)",
    );
    const d = { eventId: "x.firing", webhook: "http://h/x" };
    assert.equal(describeDelivery({ ...d, state: "delivered", attempts: 1 }), "delivered");
    assert.equal(describeDelivery({ ...d, state: "delivered", attempts: 3 }), "delivered after 3 attempts");
    assert.equal(describeDelivery({ ...d, state: "pending", attempts: 0 }), "sending");
    assert.equal(describeDelivery({ ...d, state: "pending", attempts: 2 }), "retrying (2 attempts so far)");
    assert.equal(describeDelivery({ ...d, state: "failed", attempts: 8 }), "failed after 8 attempts");
  });

  it("puts the most severe first, then the newest", () => {
    const alert = (id: string, severity: AlertView["severity"], firedAt: number) =>
      ({ id, severity, firedAt }) as AlertView;
    const sorted = sortAlerts([
      alert("w1", "warning", 1),
      alert("c1", "critical", 1),
      alert("w2", "warning", 2),
    ]);
    assert.deepEqual(
      sorted.map((a) => a.id),
      ["c1", "w2", "w1"],
    );
  });
});
