/**
 * http-overhead: what the orchestrator adds to an HTTP call. A declarative (DSL) workflow of 3 http
 * steps against a local service that answers at once, against the same 3 calls made directly with the
 * same HTTP client (undici), measured alternately in one process so both see the same machine.
 *
 *   npx tsx bench/benchmarks/http-overhead.ts [--quick]     standalone: a table and the JSON line
 *   npm run bench -- http-overhead                          through bench/run.ts, once it lists it
 *
 * added_ms_per_call_p50 = (p50 of a workflow run - p50 of the 3 direct calls) / 3. A workflow run is
 * timed from startRun to its run:finished event: it includes the start, 3 durable step commits
 * (SQLite, synchronous=FULL) and the completion, plus evaluating the templates of each request.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { compileDefinition } from "../../src/dsl/interpreter.js";
import { parseDefinition } from "../../src/dsl/parse.js";
import { assertNoEngineErrors, openBenchEngine } from "../lib/harness.js";
import { jsonLine, renderTable } from "../lib/report.js";
import { median, round, summarize } from "../lib/stats.js";
import { nowMs, rssMb } from "../lib/timing.js";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.js";

const CALLS = 3;

const DEFINITION = `name: http-overhead
steps:
  - id: a
    http: { method: POST, url: "{{ input.base }}/a", body: { n: "{{ input.n }}" } }
  - id: b
    http: { method: POST, url: "{{ input.base }}/b", body: { n: "{{ input.n }}", a: "{{ steps.a.output.body.ok }}" } }
  - id: c
    http: { method: POST, url: "{{ input.base }}/c", body: { n: "{{ input.n }}", b: "{{ steps.b.output.body.ok }}" } }
output: "{{ steps.c.output.status }}"
`;

/** A service that answers every request at once with a small JSON body. */
async function startService(): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The same 3 calls as the workflow makes, made directly: POST with a JSON body and a key, parse JSON. */
async function direct(base: string, n: number): Promise<void> {
  let prev: unknown = null;
  for (const path of ["a", "b", "c"]) {
    const res = await request(`${base}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `direct-${n}:${path}` },
      body: JSON.stringify({ n, prev }),
    });
    prev = JSON.parse(await res.body.text());
    if (res.statusCode !== 200) throw new Error(`direct call answered ${res.statusCode}`);
  }
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 100 : 500;
  const warmup = ctx.quick ? 20 : 100;
  const service = await startService();
  const def = compileDefinition(parseDefinition(DEFINITION, { file: "http-overhead.yaml" }).doc);
  const h = await openBenchEngine(ctx, [def]);
  try {
    const workflowRun = async (runId: string, i: number) => {
      const done = h.finishes.waitFor(runId);
      const t0 = nowMs();
      await h.engine.startRun(def.name, { base: service.base, n: i }, { runId });
      await done;
      return h.finishes.finishedAt.get(runId)! - t0;
    };
    const directRun = async (i: number) => {
      const t0 = nowMs();
      await direct(service.base, i);
      return nowMs() - t0;
    };
    for (let i = 0; i < warmup; i++) {
      await directRun(i);
      await workflowRun(`warm-${i}`, i);
    }
    h.resetCounters();
    ctx.log(`measuring ${n} workflow runs and ${n} direct sequences, alternately`);
    const wf = new Float64Array(n);
    const dir = new Float64Array(n);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      // Alternate which goes first, so neither always runs on a warmer cache.
      if (i % 2 === 0) {
        dir[i] = await directRun(i);
        wf[i] = await workflowRun(`wf-${i}`, i);
      } else {
        wf[i] = await workflowRun(`wf-${i}`, i);
        dir[i] = await directRun(i);
      }
      ids.push(`wf-${i}`);
    }
    h.finishes.assertCompleted(ids);
    assertNoEngineErrors(h);
    const w = summarize(wf);
    const d = summarize(dir);
    const paired = Array.from(wf, (x, i) => (x - dir[i]) / CALLS);
    return {
      bench: "http-overhead",
      store: ctx.store,
      runs: n,
      // Runs one after another: runs per second of workflow time.
      throughput_wf_s: round(n / (wf.reduce((a, b) => a + b, 0) / 1000), 1),
      p50_ms: w.p50_ms,
      p95_ms: w.p95_ms,
      p99_ms: w.p99_ms,
      rss_mb: round(rssMb(), 1),
      added_ms_per_call_p50: round((w.p50_ms - d.p50_ms) / CALLS),
      added_ms_per_call_paired_p50: round(median(paired)),
      direct_p50_ms: d.p50_ms,
      direct_p95_ms: d.p95_ms,
      workflow_p50_ms: w.p50_ms,
      calls_per_run: CALLS,
    };
  } finally {
    await h.close();
    await new Promise((resolve) => service.server.close(resolve));
    service.server.closeAllConnections();
  }
}

export const httpOverhead: Benchmark = {
  name: "http-overhead",
  describe:
    "a 3-call DSL workflow against a local service vs the same 3 calls made directly; added ms per call",
  target: { field: "added_ms_per_call_p50", op: "<=", value: 1, unit: "ms" },
  run,
  explain: (r) =>
    `workflow p50 ${r.workflow_p50_ms} ms vs direct p50 ${r.direct_p50_ms} ms for ${r.calls_per_run} calls; ` +
    `paired p50 ${r.added_ms_per_call_paired_p50} ms/call`,
};

// Standalone: `npx tsx bench/benchmarks/http-overhead.ts [--quick]` prints the table and the JSON line.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes("--quick");
  const ctx: BenchContext = {
    store: "sqlite",
    pgUrl: "",
    quick,
    coldWal: false,
    log: (m) => process.stderr.write(`${m}\n`),
  };
  run(ctx).then(
    (result) => {
      const outcome = { bench: httpOverhead, results: [result], median: result };
      console.log(renderTable([outcome], 1));
      console.log(jsonLine(outcome, { repeat: 1, quick, coldWal: false }));
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
