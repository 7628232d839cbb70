import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { toDatabaseError } from "@imap-proxy/db";
import { type ErrorCode, isCodedError } from "@imap-proxy/errors";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";

/*
 * Every error the API returns is an RFC 9457 problem (`application/problem+json`) with a stable
 * `code` from the workspace's one registry (`@imap-proxy/errors`). This table is the one place a
 * code gets its HTTP status and title.
 */
export const PROBLEMS = {
  validation_failed: { status: 400, title: "The request is not valid" },
  malformed_json: { status: 400, title: "The request body is not valid JSON" },
  tracking_unavailable: { status: 400, title: "Tracking is not configured on this server" },
  invalid_token: { status: 401, title: "The bearer token is missing or invalid" },
  insufficient_scope: { status: 403, title: "The token does not grant this" },
  permission_renamed: { status: 403, title: "The token carries a renamed permission" },
  not_found: { status: 404, title: "Not found" },
  idempotency_key_reused: {
    status: 409,
    title: "The idempotency key was used with another request",
  },
  invalid_transition: { status: 409, title: "The message is not in a state that allows this" },
  message_too_large: { status: 413, title: "The message is too large" },
  unsupported_media_type: { status: 415, title: "The request body must be JSON" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal_error: { status: 500, title: "Internal error" },
  database_unavailable: { status: 503, title: "The database is unavailable" },
} as const satisfies Partial<Record<ErrorCode, { status: number; title: string }>>;

export type ProblemCode = keyof typeof PROBLEMS;

export interface FieldError {
  /** The field, e.g. `to.0.address`, `headers.idempotency-key`, `query.limit`. */
  path: string;
  message: string;
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  errors?: FieldError[];
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** An error that becomes a problem response; `detail` is shown to the client, so no secrets. */
export class ApiProblem extends Error {
  override readonly name = "ApiProblem";
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
  }

  get status(): number {
    return PROBLEMS[this.code].status;
  }

  toDocument(): ProblemDocument {
    return {
      type: `urn:imap-proxy:problem:${this.code}`,
      title: PROBLEMS[this.code].title,
      status: this.status,
      detail: this.detail,
      code: this.code,
      ...(this.options.errors === undefined ? {} : { errors: this.options.errors }),
    };
  }
}

export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  for (const [name, value] of Object.entries(problem.options.headers ?? {})) {
    reply.header(name, value);
  }
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem.toDocument()));
}

const VALIDATION_CONTEXTS: Record<string, string> = {
  body: "",
  headers: "headers.",
  querystring: "query.",
  params: "params.",
};

/** Fastify's and the libraries' errors as problems; anything unknown is a 500 without details. */
export function toProblem(error: FastifyError): ApiProblem {
  if (error instanceof ApiProblem) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const prefix = VALIDATION_CONTEXTS[error.validationContext ?? "body"] ?? "";
    const errors = error.validation.flatMap((issue) => {
      const path = prefix + issue.instancePath.slice(1).replaceAll("/", ".");
      // An unknown field is named itself, not its parent object.
      const unknownKeys = issue.keyword === "unrecognized_keys" ? issue.params.keys : undefined;
      if (Array.isArray(unknownKeys)) {
        return unknownKeys.map((key) => ({
          path: path === "" || path.endsWith(".") ? `${path}${key}` : `${path}.${key}`,
          message: "unknown field",
        }));
      }
      return [{ path, message: issue.message ?? "invalid" }];
    });
    const fields = errors.map((e) => e.path || "(body)").join(", ");
    return new ApiProblem("validation_failed", `Invalid fields: ${fields}.`, { errors });
  }
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiProblem(
        "unsupported_media_type",
        "Send the body as JSON with Content-Type: application/json.",
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiProblem("message_too_large", "The request body exceeds the size limit.");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new ApiProblem("malformed_json", "The request body is not valid JSON.");
  }
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return new ApiProblem("malformed_json", "The request body is not valid JSON.");
  }
  // A lost database is the server's trouble and worth retrying, not a bug: 503, not 500.
  const known = toDatabaseError(error);
  if (isCodedError(known) && known.code === "database_unavailable") {
    return new ApiProblem(
      "database_unavailable",
      "The database is unavailable; try again shortly.",
      {
        headers: { "retry-after": "5" },
      },
    );
  }
  if (error.statusCode === 404) return new ApiProblem("not_found", "No such resource.");
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiProblem("validation_failed", "The request is not valid.");
  }
  return new ApiProblem("internal_error", "The request could not be completed.");
}

export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const problem = toProblem(error);
  if (problem.status >= 500) {
    // Driver messages can embed query parameters (addresses, bodies): log only what kind.
    const code = (error as { code?: unknown }).code;
    request.log.error(
      { err: { name: error.name, code: typeof code === "string" ? code : undefined } },
      "request failed",
    );
  }
  return sendProblem(reply, problem);
}
