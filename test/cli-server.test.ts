// `dirigent server` and `dirigent dev` as child processes: they print where they listen, answer, run
// what they print, and exit 0 on SIGTERM.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { LongRunning, runCli, runShell } from "./fixtures/cli-run.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/cli-remote-workflows.ts", import.meta.url));

let dir: string;

async function get(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, body: text.startsWith("{") ? JSON.parse(text) : text };
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
      ["--db", "sqlite:./served.db", "--module", FIXTURE, "server", "--port", "0"],
      { cwd: dir },
    );
    try {
      const [, url] = await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
      assert.match(server.stdout, new RegExp(`docs\\s+${url}/docs`));
      assert.match(server.stdout, /workflows\s+.*greet@1/);
      const health = await get(`${url}/healthz`);
      assert.equal(health.status, 200);
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

  it("dev: starts the demo, the printed place-order command works, exits 0 on SIGTERM", async () => {
    const dev = new LongRunning(["dev", "--port", "0"], { cwd: dir });
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
      // ... and the server's log tells the same story in readable lines.
      await dev.waitFor(/place-order \S+ {2}completed/);
      assert.match(dev.stdout, /step charge completed/);

      assert.equal(await dev.stop("SIGTERM"), 0, dev.stderr);
      assert.match(dev.stderr, /SIGTERM: shutting down/);
    } finally {
      await dev.stop("SIGKILL");
    }
  });
});
