import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { ERROR_CODES, httpStatusFor, isDirigentError } from "../core/errors.js";

/** The HTTP status of a stable code (one mapping for the whole project: src/core/errors.ts). */
export function statusForCode(code: string): number {
  return httpStatusFor(code);
}

/** Every code the server may answer with. */
export function knownErrorCodes(): string[] {
  return Object.keys(ERROR_CODES);
}

/** The JSON body of every error response. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/** Fastify's own request errors, by their FST_ code, to a stable code. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "INVALID_ARGUMENT",
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_VALIDATION: "INVALID_ARGUMENT",
  FST_ERR_BAD_URL: "INVALID_ARGUMENT",
  FST_ERR_MAX_PARAM_LENGTH: "INVALID_ARGUMENT",
  FST_ERR_ASYNC_CONSTRAINT: "INVALID_ARGUMENT",
  FST_ERR_NOT_FOUND: "ROUTE_NOT_FOUND",
};

const FASTIFY_MESSAGES: Record<string, string> = {
  INVALID_JSON: "the request body is not valid JSON",
  UNSUPPORTED_MEDIA_TYPE: "request bodies must be application/json",
  PAYLOAD_TOO_LARGE: "the request body is larger than the server accepts",
};

/**
 * Turn anything a handler or fastify threw into the error body and its status. DirigentErrors keep their
 * code, message and details; fastify's request errors get a stable code; anything else is INTERNAL with
 * a generic message (the cause is logged, never sent).
 */
export function toErrorResponse(
  error: unknown,
  extra: { maxBodyBytes?: number } = {},
): { status: number; body: ErrorBody; internal: boolean } {
  if (isDirigentError(error)) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    return { status: statusForCode(error.code), body, internal: statusForCode(error.code) >= 500 };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as FastifyError).validationContext ?? "request";
    const issues = error.validation.map((v) => ({
      path: v.instancePath.replace(/^\//, "").replaceAll("/", "."),
      message: v.message ?? "invalid",
    }));
    const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
    return {
      status: 400,
      body: {
        code: "INVALID_ARGUMENT",
        message: `invalid ${where}: ${summary}`,
        details: { in: where, issues },
      },
      internal: false,
    };
  }
  const fst = error as Partial<FastifyError> | undefined;
  const fstCode = typeof fst?.code === "string" ? fst.code : undefined;
  let code = fstCode ? FASTIFY_CODES[fstCode] : undefined;
  // Other request errors fastify raises with a 4xx status (there are many, all the caller's fault).
  if (!code && typeof fst?.statusCode === "number" && fst.statusCode >= 400 && fst.statusCode < 500) {
    code =
      fst.statusCode === 413
        ? "PAYLOAD_TOO_LARGE"
        : fst.statusCode === 415
          ? "UNSUPPORTED_MEDIA_TYPE"
          : fst.statusCode === 404
            ? "ROUTE_NOT_FOUND"
            : "INVALID_ARGUMENT";
  }
  if (code) {
    const body: ErrorBody = { code, message: FASTIFY_MESSAGES[code] ?? fst?.message ?? code };
    if (code === "PAYLOAD_TOO_LARGE" && extra.maxBodyBytes)
      body.details = { maxBodyBytes: extra.maxBodyBytes };
    if (code === "INVALID_ARGUMENT" && fst?.message) body.message = truncate(fst.message, 500);
    return { status: statusForCode(code), body, internal: false };
  }
  return { status: 500, body: { code: "INTERNAL", message: "internal server error" }, internal: true };
}

/** Send `error` as a JSON error body (used by the error, not-found and framework-error handlers). */
export function sendError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  extra: { maxBodyBytes?: number } = {},
): FastifyReply {
  const { status, body, internal } = toErrorResponse(error, extra);
  if (internal) request.log.error({ err: error }, "request failed");
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
