#!/usr/bin/env node
// Entry point of the `dirigent` command: the only place that touches argv and the process's streams.
import { runCli } from "./program.js";

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
