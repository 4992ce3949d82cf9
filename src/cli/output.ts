import { isDirigentError } from "../core/errors.js";
import { c } from "./colors.js";

export type OutputFormat = "table" | "json" | "jsonl";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json", "jsonl"];

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream;
}

/**
 * Where the CLI writes. In json format a command prints exactly one JSON document on stdout (its
 * result, or `{"error":{...}}`); in jsonl format one JSON object per line (the items of a list, the
 * events of a stream, or the one result); everything else (notes, warnings) goes to stderr.
 */
export class Output {
  constructor(
    public format: OutputFormat,
    private readonly streams: Streams,
  ) {}

  /** Where results go: the server commands write their log lines there too. */
  get stdout(): NodeJS.WritableStream {
    return this.streams.stdout;
  }

  /** Whether stdout is a terminal (live redrawing is only done there). */
  get isTTY(): boolean {
    return this.streams.stdout.isTTY === true;
  }

  /** The terminal's size, when stdout is one. */
  get size(): { columns: number; rows: number } {
    // A pseudo-terminal may report 0 × 0: take the classic size then.
    return { columns: this.streams.stdout.columns || 80, rows: this.streams.stdout.rows || 24 };
  }

  /**
   * Print a command's result: `doc` as JSON, or the text `render` returns. In jsonl, `items` (when
   * given) are printed one per line instead of `doc`.
   */
  result(doc: unknown, render: () => string, items?: readonly unknown[]): void {
    if (this.format === "json") this.streams.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else if (this.format === "jsonl") for (const item of items ?? [doc]) this.line(item);
    else this.streams.stdout.write(`${render()}\n`);
  }

  /** One object as one line of JSON (jsonl streams). */
  line(doc: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(doc)}\n`);
  }

  /** Raw text on stdout (live tables). */
  write(text: string): void {
    this.streams.stdout.write(text);
  }

  /** A remark for people; never on stdout, so JSON output stays parseable. */
  note(message: string): void {
    this.streams.stderr.write(`${c.dim(message)}\n`);
  }

  warn(message: string): void {
    this.streams.stderr.write(`${c.yellow("warning")} ${message}\n`);
  }

  /** Report an error that ends the command. Expected (coded) errors never print a stack trace. */
  error(err: unknown): void {
    const coded = isDirigentError(err);
    const code = coded ? err.code : "INTERNAL";
    const message = err instanceof Error ? err.message : String(err);
    const details = coded ? err.details : undefined;
    if (this.format === "json") {
      this.streams.stdout.write(`${JSON.stringify({ error: { code, message, details } }, null, 2)}\n`);
    } else if (this.format === "jsonl") {
      this.line({ error: { code, message, details } });
    } else {
      this.streams.stderr.write(`${c.red("error")} ${code}: ${message}\n`);
    }
    if (!coded && err instanceof Error && err.stack) this.streams.stderr.write(`${err.stack}\n`);
  }
}
