// `dirigent server` and `dirigent dev` as child processes: they print where they listen, answer, run
// what they print, take alert rules from their config file, and exit 0 on SIGTERM.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { LongRunning, runCli, runShell } from "./fixtures/cli-run.js";
import { startServer as startReceiver } from "./observability/receivers.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/cli-remote-workflows.ts", import.meta.url));

let dir: string;

async function get(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, body: text.startsWith("{") ? JSON.parse(text) : text };
}

/** Poll `check` until it returns something, for at most `timeoutMs`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    assert.ok(Date.now() < giveUp, `no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function configFile(name: string, lines: string[]): string {
  writeFileSync(join(dir, name), `${lines.join("\n")}\n`);
  return name;
}

describe("dirigent server and dev (child processes)", () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "dirigent-cli-server-"));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("server: prints its address, serves the module's workflows, exits 0 on SIGTERM", async () => {
    const server = new LongRunning(
      [
        "--db",
        "sqlite:./served.db",
        "--module",
        FIXTURE,
        "server",
        "--port",
        "0",
        "--node-id",
        "cli-node",
        "--lease-ms",
        "5000",
      ],
      { cwd: dir },
    );
    try {
      const [, url] = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
      assert.match(server.stdout, new RegExp(`docs\\s+${url}/docs`));
      assert.match(server.stdout, /workflows\s+.*greet@1/);
      const health = await get(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.body.node, "cli-node", "--node-id names the engine");
      const run = await runCli(
        ["--address", url, "workflow", "execute", "greet", "--input", '{"name":"srv"}', "-o", "json"],
        { cwd: dir },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout).output, { greeting: "hello srv" });
      assert.equal(await server.stop("SIGTERM"), 0, server.stderr);
      assert.ok(existsSync(join(dir, "served.db")), "the database is where --db said");
    } finally {
      await server.stop("SIGKILL");
    }
  });

  it("server: a bad setting is refused at start with a clear message", async () => {
    const r = await runCli(["server", "--port", "http"], { cwd: dir, env: { DIRIGENT_LOG_LEVEL: "loud" } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error INVALID_OPTIONS: invalid server configuration: /m);
    assert.match(r.stderr, /flag port: expected a whole number/);
    assert.match(r.stderr, /DIRIGENT_LOG_LEVEL: /);
  });

  it("server --config: the file's alert rule fires on a failed run, to the webhook and in the API", async () => {
    const hook = await startReceiver(() => ({ status: 204 }));
    const config = configFile("alerts.yaml", [
      "databaseUrl: sqlite:./alerts.db",
      "alerts:",
      "  source: dirigent-cli-test",
      "  webhooks:",
      `    - url: ${hook.url}/hook`,
      "  rules:",
      "    - { name: broken-failed, kind: run_failed, workflow: broken, severity: critical }",
    ]);
    const server = new LongRunning(["--module", FIXTURE, "server", "--port", "0", "--config", config], {
      cwd: dir,
    });
    try {
      const [, url] = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
      const started = await fetch(`${url}/api/v1/workflows/broken/runs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ runId: "broken-1", input: null }),
      });
      assert.equal(started.status, 201);

      const request = await until("webhook delivery", async () => hook.requests[0]);
      assert.equal(request.path, "/hook");
      assert.match(String(request.headers["content-type"]), /^application\/cloudevents\+json/);
      const event = JSON.parse(request.body.toString("utf8"));
      assert.equal(event.specversion, "1.0");
      assert.equal(event.type, "dev.dirigent.alert.firing");
      assert.equal(event.source, "dirigent-cli-test");
      assert.equal(event.subject, "broken-1");
      assert.equal(request.headers["idempotency-key"], event.id);
      assert.equal(event.data.rule, "broken-failed");
      assert.equal(event.data.severity, "critical");
      assert.match(event.data.summary, /run broken-1 of broken failed/);

      const listed = await until("a delivered alert in GET /api/v1/alerts", async () => {
        const { body } = await get(`${url}/api/v1/alerts`);
        return body.active[0]?.deliveries[0]?.state === "delivered" ? body : undefined;
      });
      assert.deepEqual(
        listed.rules.map((r: { name: string }) => r.name),
        ["broken-failed"],
      );
      assert.equal(listed.active.length, 1);
      assert.equal(listed.active[0].id, event.data.alertId);
      assert.equal(listed.active[0].state, "firing");
      assert.equal(listed.active[0].subject, "broken-1");
      assert.equal(await server.stop("SIGTERM"), 0, server.stderr);
      assert.ok(existsSync(join(dir, "alerts.db")), "the database is the file's databaseUrl");
    } finally {
      await server.stop("SIGKILL");
      await hook.close();
    }
  });

  it("server and dev --config: a bad alert rule is refused at start, naming its line", async () => {
    const config = configFile("bad-rule.yaml", [
      "alerts:",
      "  rules:",
      "    - { name: flaky, kind: step_retries, retries: 0 }",
    ]);
    for (const command of ["server", "dev"]) {
      const r = await runCli([command, "--port", "0", "--config", config], { cwd: dir });
      assert.equal(r.code, 1, `${command}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^error INVALID_OPTIONS: invalid server configuration: /m);
      assert.match(r.stderr, /bad-rule\.yaml:3:\d+ \(alerts\.rules\.0\.retries\): Too small/);
    }
  });

  it("dev: starts the demo, the printed place-order command works, logs readable lines, exits 0 on SIGTERM", async () => {
    const config = configFile("dev.yaml", [
      "alerts:",
      "  rules:",
      "    - { name: order-failed, kind: run_failed, workflow: place-order }",
    ]);
    const dev = new LongRunning(["dev", "--port", "0", "--config", config], { cwd: dir });
    try {
      const [, url] = await dev.waitFor(/server\s+(http:\/\/127\.0\.0\.1:\d+)\n/);
      const [, command] = await dev.waitFor(/^ {2}(.*workflow execute place-order .*)$/m);
      assert.match(dev.stdout, /workflows\s+.*place-order@1/);
      assert.match(dev.stdout, /dashboard\s+/);
      assert.match(dev.stdout, new RegExp(`API docs\\s+${url}/docs`));
      assert.equal((await get(`${url}/healthz`)).status, 200);
      assert.ok(existsSync(join(dir, ".dirigent", "dev.db")), "the dev database is ./.dirigent/dev.db");

      // The command as a user pastes it into a shell.
      const placed = await runShell(command, { cwd: dir });
      assert.equal(placed.code, 0, `${command}\n${placed.stdout}\n${placed.stderr}`);
      assert.match(placed.stdout, /step:completed\s+#0 charge/);
      assert.match(placed.stdout, /^status\s+completed$/m);
      // ... and the server's log tells the same story in readable lines (pino-pretty), not JSON.
      const [, runId] = await dev.waitFor(/ INFO: place-order (\S+) run completed \(\d+ ms\)\n/);
      assert.match(dev.stdout, new RegExp(`INFO: place-order ${runId} run created\n`));
      assert.match(placed.stdout, new RegExp(runId));
      const logLines = dev.stdout.split("\n").filter((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\]/.test(l));
      assert.ok(logLines.length >= 2, dev.stdout);
      assert.ok(!dev.stdout.split("\n").some((l) => l.startsWith("{")), "no JSON log lines");
      assert.ok(!/incoming request/.test(dev.stdout), "requests are logged only at debug");
      // The config file's alert rules are in force.
      const alerts = await get(`${url}/api/v1/alerts`);
      assert.deepEqual(
        alerts.body.rules.map((r: { name: string }) => r.name),
        ["order-failed"],
      );

      assert.equal(await dev.stop("SIGTERM"), 0, dev.stderr);
      assert.match(dev.stderr, /SIGTERM: shutting down/);
    } finally {
      await dev.stop("SIGKILL");
    }
  });
});
