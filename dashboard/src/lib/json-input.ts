// JSON typed by a person into a form (a run's input, a signal's payload, a schedule's input). Shared
// by several pages, so it lives here rather than in one page: a page importing another page would
// pull that page's chunk (and, for the run page, the graph library) into its own load.

/** Parse JSON typed by a person; empty text means no payload. */
export function parseJsonInput(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  if (text.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}
