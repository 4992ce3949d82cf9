// Colour for people, and only for them: on when stdout is a terminal (or FORCE_COLOR asks for it), off
// when output goes to a file or a pipe, or NO_COLOR is set. Every renderer of the CLI colours through `c`.
import { stripVTControlCharacters } from "node:util";
import pc from "picocolors";

export type Colors = ReturnType<typeof pc.createColors>;

/** The palette in use; `setColors` switches it for the whole CLI (module code reads it at call time). */
export const c: Colors = { ...pc.createColors(pc.isColorSupported) };

/** Whether to colour output written to `stream` (https://no-color.org, FORCE_COLOR as in picocolors). */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  return stream.isTTY === true && env.TERM !== "dumb";
}

export function setColors(enabled: boolean): void {
  Object.assign(c, pc.createColors(enabled));
}

/** The text without colour codes (to measure what a terminal shows). */
export function stripAnsi(text: string): string {
  return stripVTControlCharacters(text);
}
