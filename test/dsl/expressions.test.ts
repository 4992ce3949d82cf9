// Templates and JSONata expressions: values, interpolation, bounded evaluation, and the functions that
// would break replay (time, randomness, $eval) replaced.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import {
  compileCondition,
  compileTemplate,
  DEFAULT_LIMITS,
  type EvalEnv,
  ExpressionSyntaxError,
  evaluate,
} from "../../src/dsl/expressions.js";
import { type Harness, untilStatus } from "../helpers/harness.js";
import { dslHarness } from "./helpers.js";

const env: EvalEnv = { random: () => 0.25, now: () => Date.UTC(2026, 0, 2), where: "test" };
const context = {
  input: {
    amount: 1200,
    id: "o-1",
    lines: [
      { qty: 2, price: 5 },
      { qty: 1, price: 3 },
    ],
  },
  steps: { charge: { output: { id: "ch_1" } } },
  vars: { region: "eu" },
};
const ev = (value: unknown, limits = DEFAULT_LIMITS) =>
  evaluate(compileTemplate(value, limits), context, env, limits);

describe("dsl expressions", () => {
  it("a lone template keeps the value's type; text interpolates; objects and lists are walked", async () => {
    assert.equal(await ev("{{ input.amount }}"), 1200);
    assert.equal(await ev("  {{ input.amount > 1000 }}  "), true);
    assert.equal(
      await ev("order {{ input.id }} in {{ vars.region }}: {{ $sum(input.lines.(qty*price)) }}"),
      "order o-1 in eu: 13",
    );
    assert.deepEqual(
      await ev({ id: "{{ steps.charge.output.id }}", list: ["{{ input.lines[0].qty }}", 7], n: null }),
      {
        id: "ch_1",
        list: [2, 7],
        n: null,
      },
    );
    assert.deepEqual(await ev('{{ {"nested": {"deep": input.id}} }}'), { nested: { deep: "o-1" } });
    assert.equal(await ev("{{ input.nothing }}"), undefined);
    assert.deepEqual(await ev({ gone: "{{ input.nothing }}", kept: 1 }), { kept: 1 });
    assert.equal(await ev("plain text, no template"), "plain text, no template");
  });

  it("conditions may be bare or wrapped", async () => {
    const bare = compileCondition("input.amount > 1000 and vars.region = 'eu'");
    const wrapped = compileCondition("{{ input.amount < 10 }}");
    assert.equal(await evaluate({ t: "expr", expr: bare }, context, env), true);
    assert.equal(await evaluate({ t: "expr", expr: wrapped }, context, env), false);
  });

  it("refuses templates that do not parse, saying where", () => {
    assert.throws(
      () => compileTemplate("{{ input.amount + }}"),
      (e: any) => e instanceof ExpressionSyntaxError && e.position === 16,
    );
    assert.throws(() => compileTemplate("total {{ input.amount"), /no closing/);
    assert.throws(() => compileTemplate("{{ }}"), ExpressionSyntaxError);
  });

  it("stops runaway recursion, huge ranges and string bombs with a clear error", async () => {
    const tight = {
      ...DEFAULT_LIMITS,
      timeoutMs: 200,
      maxDepth: 100,
      maxSequence: 10_000,
      maxStringLength: 10_000,
    };
    const cases: [string, RegExp][] = [
      ["{{ ($f := function($n) { $n + $f($n + 1) }; $f(0)) }}", /depth limit|time limit/],
      ["{{ ($loop := function($n) { $loop($n + 1) }; $loop(0)) }}", /time limit|depth limit/],
      ["{{ [1..100000000] }}", /sequence limit/],
      ["{{ $count([1..50000]) }}", /sequence limit/],
      [
        "{{ ($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f('ab', 40)) }}",
        /string limit|size limit/,
      ],
    ];
    for (const [source, why] of cases) {
      const started = Date.now();
      await assert.rejects(ev(source, tight), (err: any) => {
        assert.equal(err.code, "EXPRESSION_ERROR", source);
        assert.match(err.message, why, source);
        assert.match(err.message, /at test failed/);
        return true;
      });
      assert.ok(Date.now() - started < 2_000, `${source} was stopped in time`);
    }
  });

  it("refuses $eval and results that are not JSON", async () => {
    await assert.rejects(ev("{{ $eval('1 + 1') }}"), /\$eval is not available/);
    await assert.rejects(ev("{{ function($x) { $x } }}"), /function/);
    await assert.rejects(ev("{{ 1 / 0 }}"), /finite/);
  });

  it("errors inside a step attempt are terminal", async () => {
    await assert.rejects(
      evaluate(compileTemplate("{{ $error('nope') }}"), context, { ...env, inStep: true }),
      (err: any) => err.name === "TerminalError" && err.options.code === "EXPRESSION_ERROR",
    );
  });

  describe("in a run", () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.close();
      h = undefined;
    });

    it("$now() and $millis() read a journaled time and $random() the run's seeded random: replay agrees", async () => {
      h = await dslHarness(
        [
          `name: clocky
steps:
  - { id: t, set: { at: "{{ $now() }}", ms: "{{ $millis() }}", r: "{{ $random() }}" } }
  - { id: hold, waitForSignal: { signal: go } }
output: "{{ vars }}"
`,
        ],
        { maxCachedRuns: 0 },
      );
      const t0 = h.clock.now();
      await h.engine.startRun("clocky", {}, { runId: "clocky-1" });
      await untilStatus(h, "clocky-1", "waiting");
      await h.clock.advance(60_000);
      await h.engine.signal("clocky-1", "go");
      const run = await h.engine.waitForFinish("clocky-1", 5_000);
      assert.equal(run.status, "completed", JSON.stringify(run.error));
      const out = run.output as { at: string; ms: number; r: number };
      assert.equal(out.ms, t0, "the time of the first execution, not of the replay a minute later");
      assert.equal(out.at, new Date(t0).toISOString());
      assert.ok(out.r >= 0 && out.r < 1);
      const kinds = (await h.store.loadJournal("clocky-1")).map((e) => e.kind);
      assert.deepEqual(kinds, ["now", "now", "signal"]);
    });
  });
});
