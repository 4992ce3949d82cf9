import { Command } from "@commander-js/extra-typings";
import { executeCommand } from "./execute.js";
import type { ContextFactory } from "./shared.js";
import { describeCommand, listCommand, resultCommand, showCommand } from "./workflow-read.js";
import {
  cancelCommand,
  deployCommand,
  retryCommand,
  signalCommand,
  startCommand,
  terminateCommand,
} from "./workflow-write.js";

/** `dirigent workflow <verb>`: runs of workflows, on a server or in a local database. */
export function workflowCommand(makeContext: ContextFactory) {
  return new Command("workflow")
    .description("start, follow, inspect and control runs")
    .addCommand(startCommand(makeContext))
    .addCommand(deployCommand(makeContext))
    .addCommand(executeCommand(makeContext))
    .addCommand(listCommand(makeContext))
    .addCommand(describeCommand(makeContext))
    .addCommand(showCommand(makeContext))
    .addCommand(resultCommand(makeContext))
    .addCommand(signalCommand(makeContext))
    .addCommand(cancelCommand(makeContext))
    .addCommand(terminateCommand(makeContext))
    .addCommand(retryCommand(makeContext));
}
