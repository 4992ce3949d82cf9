import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root, for spawning scripts by path. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A child process that prints one JSON object per line on stdout (workers, servers): every line is kept,
 * and a test waits for the line it expects instead of sleeping.
 */
export class JsonLineChild {
  readonly lines: Record<string, any>[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private waiters: { match: (line: Record<string, any>) => boolean; resolve: (line: any) => void }[] = [];

  constructor(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffer = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        const text = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf("\n");
        if (!text.startsWith("{")) continue;
        let line: Record<string, any>;
        try {
          line = JSON.parse(text);
        } catch {
          continue;
        }
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => {
          if (!w.match(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The first line (already printed or still to come) that `match` accepts. */
  waitFor(match: (line: Record<string, any>) => boolean, what: string, timeoutMs = 15_000): Promise<any> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `timed out waiting for ${what}; lines: ${JSON.stringify(this.lines).slice(0, 2_000)}; stderr: ${this.stderr.join("").slice(0, 2_000)}`,
          ),
        );
      }, timeoutMs);
      const done = (line: unknown) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  /** Resolves when the process exits by itself; rejects (leaving it running) after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`the process did not exit within ${timeoutMs} ms: ${JSON.stringify(this.lines)}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves once it exited. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A TypeScript worker process (test/server/fixtures/worker-node.ts) using src/client/worker.ts. */
export function startTsWorker(url: string, queue: string, workerId: string, concurrency = 1): JsonLineChild {
  return new JsonLineChild(process.execPath, [
    "--import",
    "tsx",
    "test/server/fixtures/worker-node.ts",
    url,
    queue,
    workerId,
    String(concurrency),
  ]);
}
