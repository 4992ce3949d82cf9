import { Command } from "@commander-js/extra-typings";
import type { ContextFactory } from "./shared.js";
import { describeCommand, listCommand, resultCommand, showCommand } from "./workflow-read.js";
import { cancelCommand, signalCommand, startCommand, terminateCommand } from "./workflow-write.js";

/** `dirigent workflow <verb>`: runs of workflows in the local database. */
export function workflowCommand(makeContext: ContextFactory) {
  return new Command("workflow")
    .description("start, inspect and control runs in the local database")
    .addCommand(startCommand(makeContext))
    .addCommand(listCommand(makeContext))
    .addCommand(describeCommand(makeContext))
    .addCommand(showCommand(makeContext))
    .addCommand(resultCommand(makeContext))
    .addCommand(signalCommand(makeContext))
    .addCommand(cancelCommand(makeContext))
    .addCommand(terminateCommand(makeContext));
}
