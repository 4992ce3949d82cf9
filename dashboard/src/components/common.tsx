// Small shared pieces: status badges, inline notices for loading and errors, JSON with a copy button.
import { type ReactNode, useEffect, useState } from "react";
import { ApiError } from "../api/client.js";
import { toJson } from "../lib/format.js";

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return <span className={`badge s-${status}`}>{label ?? status}</span>;
}

/** An inline message; errors are announced to screen readers. Never covers the page. */
export function Notice({ kind = "info", children }: { kind?: "info" | "error" | "ok"; children: ReactNode }) {
  return (
    <div className={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** What a failed query shows: a missing route is said plainly (an older server). */
export function QueryError({ error, what }: { error: unknown; what: string }) {
  if (error instanceof ApiError && error.routeMissing) {
    return (
      <Notice kind="info">
        This server does not offer {what} yet (<code>{error.message}</code>).
      </Notice>
    );
  }
  const message =
    error instanceof ApiError
      ? `${error.code}: ${error.message}`
      : String((error as Error)?.message ?? error);
  return (
    <Notice kind="error">
      Could not load {what}: {message}
    </Notice>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState<"copied" | "failed">();
  useEffect(() => {
    if (!done) return;
    const t = setTimeout(() => setDone(undefined), 1_500);
    return () => clearTimeout(t);
  }, [done]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone("copied");
    } catch {
      // Insecure origins have no clipboard API: fall back to a selection copy.
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      const ok = document.execCommand("copy");
      area.remove();
      setDone(ok ? "copied" : "failed");
    }
  };
  return (
    <button type="button" className="small copy" onClick={copy} aria-label={`${label} to clipboard`}>
      {done === "copied" ? "Copied" : done === "failed" ? "Copy failed" : label}
    </button>
  );
}

export function JsonBlock({
  title,
  value,
  error = false,
  empty = "none",
}: {
  title: string;
  value: unknown;
  error?: boolean;
  /** What to say when there is no value. */
  empty?: string;
}) {
  const text = toJson(value);
  const id = `json-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return (
    <section className="json" aria-labelledby={id}>
      <div className="json-head">
        <h3 id={id}>{title}</h3>
        {text !== "" && <CopyButton text={text} label={`Copy ${title.toLowerCase()}`} />}
      </div>
      {text === "" ? (
        <p className="muted">{empty}</p>
      ) : (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable block must take focus to scroll by keyboard
        <pre className={error ? "err" : undefined} tabIndex={0}>
          {text}
        </pre>
      )}
    </section>
  );
}

/** Re-render every `ms` while `active` (durations of things still going). */
export function useNow(ms: number, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms, active]);
  return now;
}

/** A confirmation or form dialog on the native <dialog> (focus trap, Escape to close). */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const [el, setEl] = useState<HTMLDialogElement | null>(null);
  useEffect(() => {
    if (!el) return;
    if (open && !el.open) el.showModal();
    if (!open && el.open) el.close();
  }, [open, el]);
  const titleId = `dlg-${title.toLowerCase().replace(/\W+/g, "-")}`;
  return (
    <dialog ref={setEl} aria-labelledby={titleId} onClose={onClose}>
      {open && (
        <>
          <h2 id={titleId} className="dialog-title">
            {title}
          </h2>
          {children}
        </>
      )}
    </dialog>
  );
}
