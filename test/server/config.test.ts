import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isDirigentError } from "../../src/core/errors.js";
import { workflow } from "../../src/runtime/workflow.js";
import {
  parseDatabaseUrl,
  resolveServerConfig,
  SERVER_DEFAULTS,
  validateServerConfig,
} from "../../src/server/config.js";
import { openStore, startServer } from "../../src/server/start.js";
import { deferred } from "../helpers/harness.js";

const dir = mkdtempSync(join(tmpdir(), "dirigent-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isDirigentError(error));
    assert.equal(error.code, "INVALID_OPTIONS");
    return error.message;
  }
  assert.fail("expected INVALID_OPTIONS");
}

test("defaults: 127.0.0.1:7070, ./dirigent.db, logs off", () => {
  const config = resolveServerConfig({ env: {} });
  assert.deepEqual(config, SERVER_DEFAULTS);
  assert.equal(config.port, 7070);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.databaseUrl, "sqlite:./dirigent.db");
  assert.equal(config.logLevel, "silent");
});

test("precedence: flag over DIRIGENT_* over the config file over defaults", () => {
  const json = file(
    "c.json",
    JSON.stringify({ port: 9001, host: "0.0.0.0", databaseUrl: "sqlite:/tmp/f.db" }),
  );
  const env = { DIRIGENT_CONFIG: json, DIRIGENT_PORT: "9002", DIRIGENT_HOST: "" };
  const fromFileAndEnv = resolveServerConfig({ env });
  assert.equal(fromFileAndEnv.port, 9002, "env beats file");
  assert.equal(fromFileAndEnv.host, "0.0.0.0", "an empty variable counts as unset");
  assert.equal(fromFileAndEnv.databaseUrl, "sqlite:/tmp/f.db", "file beats default");
  assert.equal(fromFileAndEnv.shutdownGraceMs, SERVER_DEFAULTS.shutdownGraceMs);
  const withFlags = resolveServerConfig({ env, flags: { port: "9003", host: undefined } });
  assert.equal(withFlags.port, 9003, "flag beats env, digit strings become numbers");
  assert.equal(withFlags.host, "0.0.0.0", "an undefined flag counts as unset");

  const yaml = file("c.yaml", "port: 9100\nlogLevel: info\n");
  const fromYaml = resolveServerConfig({ env: {}, flags: { config: yaml } });
  assert.equal(fromYaml.port, 9100);
  assert.equal(fromYaml.logLevel, "info");
});

test("bad values and unknown keys are refused, naming where they came from", () => {
  assert.match(
    invalid(() => resolveServerConfig({ env: { DIRIGENT_PORT: "http" } })),
    /DIRIGENT_PORT.*"http"/,
  );
  assert.match(
    invalid(() => resolveServerConfig({ env: { DIRIGENT_PORT: "70000" } })),
    /DIRIGENT_PORT/,
  );
  assert.match(
    invalid(() => resolveServerConfig({ env: { DIRIGENT_LOG_LEVEL: "loud" } })),
    /DIRIGENT_LOG_LEVEL/,
  );
  assert.match(
    invalid(() => resolveServerConfig({ env: { DIRIGENT_DATABASE_URL: "mysql://x" } })),
    /DIRIGENT_DATABASE_URL.*sqlite/,
  );
  const typo = file("typo.json", JSON.stringify({ prot: 1 }));
  const message = invalid(() => resolveServerConfig({ env: { DIRIGENT_CONFIG: typo } }));
  assert.match(message, /typo\.json/);
  assert.match(message, /unknown setting "prot"/);
  assert.match(
    invalid(() => resolveServerConfig({ env: {}, flags: { config: file("bad.json", "{port") } })),
    /not valid JSON/,
  );
  assert.match(
    invalid(() => resolveServerConfig({ env: {}, flags: { config: join(dir, "missing.json") } })),
    /cannot be read/,
  );
  assert.match(
    invalid(() => resolveServerConfig({ env: {}, flags: { config: file("arr.json", "[]") } })),
    /object/,
  );
  assert.match(
    invalid(() => validateServerConfig({ porrt: 1 } as never)),
    /unknown setting "porrt"/,
  );
  // several problems are reported together
  const both = invalid(() =>
    resolveServerConfig({ env: { DIRIGENT_PORT: "x", DIRIGENT_SHUTDOWN_GRACE_MS: "-1" } }),
  );
  assert.match(both, /DIRIGENT_PORT.*DIRIGENT_SHUTDOWN_GRACE_MS/);
});

test("database URLs", () => {
  assert.deepEqual(parseDatabaseUrl("sqlite:./x.db"), { kind: "sqlite", path: "./x.db" });
  assert.deepEqual(parseDatabaseUrl("sqlite:///abs/x.db"), { kind: "sqlite", path: "/abs/x.db" });
  assert.deepEqual(parseDatabaseUrl("sqlite::memory:"), { kind: "sqlite", path: ":memory:" });
  assert.deepEqual(parseDatabaseUrl("data/x.db"), { kind: "sqlite", path: "data/x.db" });
  assert.deepEqual(parseDatabaseUrl("postgres://u@h/db"), { kind: "postgres", url: "postgres://u@h/db" });
  assert.deepEqual(parseDatabaseUrl("postgresql://u@h/db"), { kind: "postgres", url: "postgresql://u@h/db" });
  for (const bad of ["sqlite:", "mysql://h/db", ""]) invalid(() => parseDatabaseUrl(bad));
});

test("openStore opens SQLite (creating the folder) and PostgreSQL by URL", async () => {
  const sqlite = await openStore(`sqlite:${join(dir, "nested", "deeper", "s.db")}`);
  assert.equal(sqlite.kind, "sqlite");
  await sqlite.close();
  const pg = await openStore("postgres://postgres@127.0.0.1:5432/test");
  assert.equal(pg.kind, "postgres");
  await pg.close();
});

test("startServer refuses bad settings before opening anything, and a taken port cleanly", async () => {
  await assert.rejects(startServer({ port: -1, handleSignals: false }), { code: "INVALID_OPTIONS" });
  const first = await startServer({
    databaseUrl: `sqlite:${join(dir, "a.db")}`,
    port: 0,
    handleSignals: false,
  });
  try {
    await assert.rejects(
      startServer({ databaseUrl: `sqlite:${join(dir, "b.db")}`, port: first.port, handleSignals: false }),
      /EADDRINUSE/,
    );
  } finally {
    await first.close();
  }
});

test("alert rules come from the config file's alerts key, checked where they are written", () => {
  const yaml = file(
    "alerts.yaml",
    [
      "port: 9200",
      "alerts:",
      "  webhooks:",
      "    - url: http://127.0.0.1:9/hook",
      "  rules:",
      "    - { name: failed, kind: run_failed, severity: critical }",
      "    - name: stuck",
      "      kind: run_stuck",
      "      status: waiting",
      "      for: 2h",
      "",
    ].join("\n"),
  );
  const config = resolveServerConfig({ env: {}, flags: { config: yaml } });
  assert.equal(config.port, 9200);
  assert.deepEqual(
    config.alerts?.rules.map((r) => r.name),
    ["failed", "stuck"],
  );
  assert.equal(config.alerts?.webhooks?.[0].url, "http://127.0.0.1:9/hook");
  assert.equal(resolveServerConfig({ env: {} }).alerts, undefined, "no file, no alerts");

  // Every problem is reported with its line and column in a YAML file, and its path.
  const bad = file(
    "bad-alerts.yaml",
    [
      "alerts:",
      "  rules:",
      "    - { name: failed, kind: run_failed }",
      "    - name: retried",
      "      kind: step_retries",
      "      retries: 0",
      "      colour: red",
      "    - { name: failed, kind: run_stuck, status: waiting, for: soon }",
      "",
    ].join("\n"),
  );
  const message = invalid(() => resolveServerConfig({ env: {}, flags: { config: bad } }));
  assert.match(message, /bad-alerts\.yaml:6:16 \(alerts\.rules\.1\.retries\): Too small/);
  assert.match(message, /bad-alerts\.yaml:7:15 \(alerts\.rules\.1\.colour\): unknown key "colour"/);
  assert.match(
    message,
    /bad-alerts\.yaml:8:\d+ \(alerts\.rules\.2\.for\): duration "soon" is not a duration/,
  );
  assert.match(message, /\(alerts\.rules\.2\.name\): rule name "failed" is used twice/);

  // A JSON file names the path; alerts given in code are checked the same way.
  const json = file("alerts.json", JSON.stringify({ alerts: { rules: [{ name: "x", kind: "nope" }] } }));
  assert.match(
    invalid(() => resolveServerConfig({ env: {}, flags: { config: json } })),
    /alerts\.json \(alerts\.rules\.0\.kind\): /,
  );
  assert.match(
    invalid(() => validateServerConfig({ alerts: { rules: [{ name: "x", kind: "run_failed", every: 1 }] } })),
    /alerts\.rules\.0\.every: unknown key/,
  );
});

test("logFormat json or pretty; a command's defaults sit below the file", () => {
  assert.equal(resolveServerConfig({ env: { DIRIGENT_LOG_FORMAT: "pretty" } }).logFormat, "pretty");
  assert.match(
    invalid(() => resolveServerConfig({ env: { DIRIGENT_LOG_FORMAT: "xml" } })),
    /DIRIGENT_LOG_FORMAT/,
  );
  const yaml = file("logs.yaml", "logLevel: warn\n");
  const defaults = { logLevel: "info", logFormat: "pretty" } as const;
  const config = resolveServerConfig({ env: {}, flags: { config: yaml }, defaults });
  assert.equal(config.logLevel, "warn", "the file beats the command's default");
  assert.equal(config.logFormat, "pretty", "the command's default beats the server's");
  assert.equal(resolveServerConfig({ env: {}, defaults }).logLevel, "info");
});

test("node id, lease and poll interval: from flags, env or file, checked, and handed to the engine", async () => {
  const fromEnv = resolveServerConfig({
    env: { DIRIGENT_NODE_ID: "node-a", DIRIGENT_LEASE_MS: "5000", DIRIGENT_POLL_INTERVAL_MS: "250" },
  });
  assert.deepEqual(
    { nodeId: fromEnv.nodeId, leaseMs: fromEnv.leaseMs, pollIntervalMs: fromEnv.pollIntervalMs },
    { nodeId: "node-a", leaseMs: 5_000, pollIntervalMs: 250 },
  );
  assert.equal(resolveServerConfig({ env: {} }).nodeId, "", "empty: the engine makes one");
  const yaml = file("lease.yaml", "leaseMs: 8000\nnodeId: from-file\n");
  const fromFile = resolveServerConfig({ env: {}, flags: { config: yaml, nodeId: "from-flag" } });
  assert.equal(fromFile.leaseMs, 8_000);
  assert.equal(fromFile.nodeId, "from-flag", "the flag beats the file");
  assert.match(
    invalid(() => resolveServerConfig({ env: { DIRIGENT_LEASE_MS: "50" } })),
    /DIRIGENT_LEASE_MS/,
  );
  assert.match(
    invalid(() => resolveServerConfig({ env: {}, flags: { nodeId: "a b/c" } })),
    /flag nodeId/,
  );

  // A run claimed by a server started with these settings carries them: its owner and lease length.
  const release = deferred<void>();
  const probe = workflow("lease-probe", async (ctx) => ctx.step("hold", () => release.promise));
  const server = await startServer({
    databaseUrl: `sqlite:${join(dir, "lease.db")}`,
    port: 0,
    handleSignals: false,
    nodeId: "node-lease",
    leaseMs: 4_000,
    workflows: [probe],
  });
  try {
    const health = await (await fetch(`${server.url}/healthz`)).json();
    assert.equal(health.node, "node-lease");
    const before = Date.now();
    await server.client.start("lease-probe", null, { runId: "probe-1" });
    const run = await server.store.getRun("probe-1");
    assert.equal(run?.owner, "node-lease");
    const leaseLeft = (run?.leaseExpiresAt ?? 0) - before;
    assert.ok(leaseLeft > 3_000 && leaseLeft <= 4_500, `lease of ${leaseLeft} ms, expected about 4,000`);
    release.resolve();
  } finally {
    await server.close();
  }
});
