import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { z } from "zod";
import { HttpClient } from "../../src/client/http-client.js";
import { TerminalError } from "../../src/core/errors.js";
import { workflow } from "../../src/runtime/workflow.js";
import { type RunningServer, type StartServerOptions, startServer } from "../../src/server/start.js";

/** A promise with its resolve exposed, to hold a step open from the test. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Input of the `task` workflow: the task's queue, data and options. */
export interface TaskWorkflowInput {
  queue?: string;
  data?: unknown;
  heartbeatTimeoutMs?: number;
  maxAttempts?: number;
  retryMs?: number;
  priority?: number;
  startToCloseMs?: number;
  scheduleToStartMs?: number;
}

/**
 * Workflows the server tests run. `hold` waits inside its step until the test opens `holdGate`; `task`
 * hands one task to a queue (default "work") for a worker and returns its result.
 */
export function testWorkflows(hold: { gate: ReturnType<typeof gate>; entered: () => void }) {
  return [
    workflow("echo", async (ctx, input: unknown) => ctx.step("echo", () => input)),
    workflow("waiter", async (ctx, input: unknown) => {
      const signal = await ctx.waitForSignal("go");
      return { input, signal };
    }),
    workflow("fails", async (ctx) =>
      ctx.step("boom", () => {
        throw new TerminalError("boom", { code: "BOOM" });
      }),
    ),
    workflow("typed", async (_ctx, input: { n: number }) => input.n * 2, {
      input: z.object({ n: z.number() }),
    }),
    workflow("task", async (ctx, input: TaskWorkflowInput | null) =>
      ctx.task("work", {
        queue: input?.queue ?? "work",
        input: input?.data ?? null,
        heartbeatTimeoutMs: input?.heartbeatTimeoutMs,
        startToCloseMs: input?.startToCloseMs,
        scheduleToStartMs: input?.scheduleToStartMs,
        priority: input?.priority,
        retry: { maxAttempts: input?.maxAttempts ?? 3, initialIntervalMs: input?.retryMs ?? 0, jitter: 0 },
      }),
    ),
    workflow("hold", async (ctx) =>
      ctx.step("held", async () => {
        hold.entered();
        await hold.gate.opened;
        return "released";
      }),
    ),
  ];
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** Plain HTTP requests (no client logic) against a server. */
export class Raw {
  private readonly agent = new Agent({ keepAliveTimeout: 5_000 });
  constructor(readonly base: string) {}

  async send(
    method: string,
    path: string,
    options: { body?: string | Buffer; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<RawResponse> {
    const headers = { ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] ??= "application/json";
    }
    const res = await request(this.base + path, {
      method: method as "GET",
      headers,
      body,
      dispatcher: this.agent,
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json };
  }

  get(path: string) {
    return this.send("GET", path);
  }

  post(path: string, json?: unknown, headers?: Record<string, string>) {
    return this.send("POST", path, { json, headers });
  }

  close() {
    return this.agent.close();
  }
}

export interface ServerFixture {
  dir: string;
  dbPath: string;
  server: RunningServer;
  http: HttpClient;
  raw: Raw;
  hold: { gate: ReturnType<typeof gate>; entered: Promise<void> };
  close(): Promise<void>;
}

/** A real server on 127.0.0.1:0 over a fresh SQLite file, with an HttpClient and a raw client. */
export async function serverFixture(options: Partial<StartServerOptions> = {}): Promise<ServerFixture> {
  const dir = mkdtempSync(join(tmpdir(), "dirigent-server-"));
  const dbPath = join(dir, "server.db");
  const holdGate = gate();
  let entered!: () => void;
  const enteredP = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const server = await startServer({
    databaseUrl: `sqlite:${dbPath}`,
    port: 0,
    handleSignals: false,
    workflows: testWorkflows({ gate: holdGate, entered }),
    // The dashboard, if built, would answer unknown GETs with its page: tests name one when they want it.
    dashboardDir: false,
    ...options,
  });
  const http = new HttpClient({ address: server.url, timeoutMs: 10_000 });
  const raw = new Raw(server.url);
  return {
    dir,
    dbPath,
    server,
    http,
    raw,
    hold: { gate: holdGate, entered: enteredP },
    async close() {
      holdGate.open();
      await http.close();
      await raw.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Poll (real time, short) until `check` holds. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 5_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
