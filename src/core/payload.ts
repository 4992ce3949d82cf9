import { DirigentError } from "./errors.js";

export const DEFAULT_MAX_PAYLOAD_BYTES = 2 * 1024 * 1024;

/**
 * Encode a value to JSON for storage, enforcing the payload size limit. `undefined` is stored as null
 * in the column (callers keep "absent" apart). Values JSON cannot represent faithfully are refused
 * rather than silently mangled.
 */
export function encodePayload(value: unknown, maxBytes: number, what: string): string | null {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new DirigentError("INVALID_INPUT", `${what} is not JSON-serializable: ${(err as Error).message}`);
  }
  if (text === undefined) {
    throw new DirigentError("INVALID_INPUT", `${what} is not JSON-serializable (got ${typeof value})`);
  }
  // Byte length matters, not string length: the limit protects storage and the wire.
  const bytes = text.length <= maxBytes / 3 ? text.length : Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) {
    throw new DirigentError("PAYLOAD_TOO_LARGE", `${what} is ${bytes} bytes, over the limit of ${maxBytes}`, {
      bytes,
      maxBytes,
    });
  }
  return text;
}

export function decodePayload(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return undefined;
  return JSON.parse(text);
}

/** Parse user-supplied JSON text (CLI, API), turning syntax errors into INVALID_JSON. */
export function parseJsonInput(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DirigentError("INVALID_JSON", `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Names (steps, signals, queues) are stored as text columns: NUL and unpaired UTF-16 surrogates are
 * refused up front, since PostgreSQL rejects them and would fail a whole group commit.
 */
export function hasUnstorableCharacters(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding the NUL character is the point
  return /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
