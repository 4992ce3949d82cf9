import pc from "picocolors";
import { isDirigentError } from "../core/errors.js";

export type OutputFormat = "table" | "json";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json"];

export interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Where the CLI writes. In json format a command prints exactly one JSON document on stdout (its
 * result, or `{"error":{...}}`), and everything else (notes, warnings) goes to stderr.
 */
export class Output {
  constructor(
    public format: OutputFormat,
    private readonly streams: Streams,
  ) {}

  /** Print a command's result: `doc` as JSON, or the text `render` returns. */
  result(doc: unknown, render: () => string): void {
    if (this.format === "json") this.streams.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else this.streams.stdout.write(`${render()}\n`);
  }

  /** A remark for people; never on stdout, so JSON output stays parseable. */
  note(message: string): void {
    this.streams.stderr.write(`${pc.dim(message)}\n`);
  }

  warn(message: string): void {
    this.streams.stderr.write(`${pc.yellow("warning")} ${message}\n`);
  }

  /** Report an error that ends the command. Expected (coded) errors never print a stack trace. */
  error(err: unknown): void {
    const coded = isDirigentError(err);
    const code = coded ? err.code : "INTERNAL";
    const message = err instanceof Error ? err.message : String(err);
    const details = coded ? err.details : undefined;
    if (this.format === "json") {
      this.streams.stdout.write(`${JSON.stringify({ error: { code, message, details } }, null, 2)}\n`);
    } else {
      this.streams.stderr.write(`${pc.red("error")} ${code}: ${message}\n`);
    }
    if (!coded && err instanceof Error && err.stack) this.streams.stderr.write(`${err.stack}\n`);
  }
}
