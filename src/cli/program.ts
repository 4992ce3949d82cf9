import { Command, CommanderError, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { setColors, shouldColor } from "./colors.js";
import { devCommand } from "./commands/dev.js";
import { scheduleCommand } from "./commands/schedule.js";
import { serverCommand } from "./commands/server.js";
import { taskQueueCommand } from "./commands/task-queue.js";
import { workflowCommand } from "./commands/workflow.js";
import { CliContext, type GlobalOptions } from "./context.js";
import { EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, isUsageError, UsageError } from "./errors.js";
import { OUTPUT_FORMATS, Output, type OutputFormat, type Streams } from "./output.js";

export interface CliIo extends Streams {
  env: NodeJS.ProcessEnv;
}

/** The `dirigent` command tree. Errors are thrown (exitOverride), never printed by commander itself. */
export function createProgram(
  io: CliIo,
  out: Output,
  onContext: (ctx: CliContext) => void = () => {},
): Command {
  const makeContext = (command: CommandUnknownOpts) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    out.format = (globals.output as OutputFormat | undefined) ?? "table";
    const ctx = new CliContext(out, globals, io.env);
    onContext(ctx);
    return ctx;
  };
  const program = new Command("dirigent")
    .description(
      "Dirigent: durable workflows. Remote mode (--address or $DIRIGENT_ADDRESS) talks to a server; " +
        "local mode works directly on a database (a SQLite file or PostgreSQL).",
    )
    .option(
      "--address <url>",
      "the server to talk to, e.g. http://127.0.0.1:7070 (default: $DIRIGENT_ADDRESS)",
    )
    .option(
      "--db <path>",
      "the database: a SQLite file, a sqlite: URL or a postgres:// URL (?schema=<name> picks the schema) " +
        "(default: $DIRIGENT_DATABASE_URL, else ./dirigent.db)",
    )
    .option("--database-url <url>", "the same as --db")
    .option(
      "--module <file>",
      "a .ts/.js module exporting workflow definitions (local verbs that execute; server and dev run them)",
    )
    .addOption(
      new Option(
        "-o, --output <format>",
        "output format: tables for people, json, or jsonl (one object a line)",
      )
        .choices(OUTPUT_FORMATS)
        .default("table"),
    )
    .addCommand(workflowCommand(makeContext))
    .addCommand(scheduleCommand(makeContext))
    .addCommand(taskQueueCommand(makeContext))
    .addCommand(serverCommand(makeContext))
    .addCommand(devCommand(makeContext));
  configureAll(program, io);
  return program;
}

function configureAll(command: CommandUnknownOpts, io: CliIo): void {
  command.exitOverride();
  command.configureOutput({
    writeOut: (text) => io.stdout.write(text),
    writeErr: (text) => io.stderr.write(text),
    outputError: () => {}, // reported by runCli in the chosen output format
  });
  for (const sub of command.commands) configureAll(sub, io);
}

/** The output format asked for on the command line, known even when parsing failed. */
export function outputFormatOf(argv: string[]): OutputFormat {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") break;
    const value =
      a === "-o" || a === "--output"
        ? argv[i + 1]
        : a.startsWith("--output=")
          ? a.slice(9)
          : a.startsWith("-o")
            ? a.slice(2)
            : undefined;
    if ((OUTPUT_FORMATS as readonly string[]).includes(value ?? "")) return value as OutputFormat;
  }
  return "table";
}

/** Run the CLI on `argv` (without node and script); resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  setColors(shouldColor(io.stdout, io.env));
  const out = new Output(outputFormatOf(argv), io);
  let ctx: CliContext | undefined;
  const program = createProgram(io, out, (c) => {
    ctx = c;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx?.interrupted ? EXIT_INTERRUPTED : (ctx?.exitCode ?? EXIT_OK);
  } catch (error) {
    if (error instanceof CommanderError) return commanderExit(error, out);
    out.error(error);
    return isUsageError(error) ? EXIT_USAGE : EXIT_ERROR;
  }
}

function commanderExit(error: CommanderError, out: Output): number {
  // --help and --version ask for help: already printed, and a success.
  if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT_OK;
  // A command group called without a verb: commander printed its help to stderr.
  if (error.code === "commander.help") {
    if (out.format === "json") out.error(new UsageError("a command is required (see --help)"));
    return EXIT_USAGE;
  }
  out.error(new UsageError(`${error.message.replace(/^error: /, "")} (see --help)`));
  return EXIT_USAGE;
}
