// Formatting of times, durations and values for display. Pure (the current time is passed in).

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1_000).toFixed(abs < 10_000 ? 2 : 1)} s`;
  if (abs < 3_600_000) {
    const m = Math.floor(abs / 60_000);
    const s = Math.round((abs % 60_000) / 1_000);
    return `${ms < 0 ? "-" : ""}${m} min${s ? ` ${s} s` : ""}`;
  }
  if (abs < 86_400_000) {
    const h = Math.floor(abs / 3_600_000);
    const m = Math.round((abs % 3_600_000) / 60_000);
    return `${ms < 0 ? "-" : ""}${h} h${m ? ` ${m} min` : ""}`;
  }
  const d = Math.floor(abs / 86_400_000);
  const h = Math.round((abs % 86_400_000) / 3_600_000);
  return `${ms < 0 ? "-" : ""}${d} d${h ? ` ${h} h` : ""}`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Local time; the date is added when it is not `now`'s day. */
export function formatTime(ts: number | null | undefined, now: number = Date.now(), ms = false): string {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts);
  const today = new Date(now);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${ms ? `.${pad(d.getMilliseconds(), 3)}` : ""}`;
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** "12 s ago", "in 3 min". */
export function formatRelative(ts: number | null | undefined, now: number = Date.now()): string {
  if (ts === null || ts === undefined) return "—";
  const diff = ts - now;
  if (Math.abs(diff) < 1_000) return "now";
  const text = formatDuration(Math.abs(diff)).replace(/\.\d+ s$/, " s");
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/**
 * For times that are past by nature (created, last seen): a browser clock a little behind the
 * server's would otherwise put them "in 2 s".
 */
export function formatAgo(ts: number | null | undefined, now: number = Date.now()): string {
  if (ts === null || ts === undefined) return "—";
  return ts > now ? "just now" : formatRelative(ts, now);
}

export function formatPercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return "—";
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)} %`;
}

/** JSON for display; undefined shows as nothing. */
export function toJson(value: unknown): string {
  if (value === undefined) return "";
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** Value of a datetime-local input for an epoch ms time (local time). */
export function toLocalInput(ts: number | undefined): string {
  if (ts === undefined) return "";
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
