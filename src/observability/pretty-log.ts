// One human-readable line per log record, for `dirigent dev` (createLogger({ pretty: true })): which
// run and step first, then what happened with the facts that matter (duration, retry delay, error
// message, request and status), and only the fields not already said at the end of the line.
import { type MessageFormatFunc, prettyFactory } from "pino-pretty";

type Colors = Parameters<MessageFormatFunc>[3]["colors"];

/** Fields the message says itself (or that only a log backend wants): left out of the line's tail. */
const SAID = [
  "pid",
  "hostname",
  "runId",
  "workflow",
  "step",
  "seq",
  "attempt",
  "durationMs",
  "delayMs",
  "error",
  "status",
  "fence",
  "replay",
  "takeover",
  "wakeAt",
  "context",
  "reqId",
  "req",
  "res",
  "responseTime",
  "trace_id",
  "span_id",
];

const ms = (n: unknown) => `${Math.round(Number(n) * 10) / 10} ms`;

function message(log: Record<string, unknown>, messageKey: string, colors: Colors): string {
  const who: string[] = [];
  if (log.workflow) who.push(colors.cyan(String(log.workflow)));
  if (log.runId) who.push(colors.gray(String(log.runId)));
  if (log.step) who.push(colors.bold(`${log.step}#${log.attempt ?? "?"}`));
  if (log.reqId) who.push(colors.gray(String(log.reqId)));
  let text = String(log[messageKey] ?? "");
  const req = log.req as { method?: string; url?: string } | undefined;
  const res = log.res as { statusCode?: number } | undefined;
  if (req?.method) text += ` ${req.method} ${req.url ?? ""}`;
  if (res?.statusCode !== undefined) text += ` ${res.statusCode}`;
  if (log.responseTime !== undefined) text += ` (${ms(log.responseTime)})`;
  if (log.context) text += ` (${log.context})`;
  if (log.delayMs !== undefined) text += ` in ${ms(log.delayMs)}`;
  if (log.durationMs !== undefined) text += ` (${ms(log.durationMs)})`;
  const error = log.error as { message?: string; code?: string } | undefined;
  if (error?.message) text += `: ${error.message}${error.code ? ` [${error.code}]` : ""}`;
  return [...who, text].join(" ");
}

/**
 * A function from one pino JSON line to one readable line (errors logged as `err` keep their stack
 * below it). `colorize` undefined: colours when stdout is a terminal.
 */
export function prettyLines(colorize: boolean | undefined): (line: string) => string {
  return prettyFactory({
    colorize,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: SAID.join(","),
    singleLine: true,
    messageFormat: (log, messageKey, _level, { colors }) => message(log, messageKey, colors),
  });
}
