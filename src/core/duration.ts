import { DirigentError } from "./errors.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration as milliseconds, or as text like "250ms", "10s", "5m", "2h", "1d", "1h30m".
 * Throws INVALID_ARGUMENT with the offending text otherwise.
 */
export type Duration = number | string;

export function toMs(duration: Duration, what = "duration"): number {
  if (typeof duration === "number") {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new DirigentError(
        "INVALID_ARGUMENT",
        `${what} must be a non-negative number of ms, got ${duration}`,
      );
    }
    return duration;
  }
  const text = String(duration).trim();
  const parts = text.match(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g);
  if (!parts || parts.join("").replace(/\s/g, "") !== text.replace(/\s/g, "")) {
    throw new DirigentError(
      "INVALID_ARGUMENT",
      `${what} "${text}" is not a duration like 500ms, 10s, 5m, 2h or 1d`,
    );
  }
  let total = 0;
  for (const part of parts) {
    const m = part.match(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/)!;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return Math.round(total);
}
