import { CodedError, type DatabaseErrorCode } from "@imap-proxy/errors";

export type { DatabaseErrorCode };

/** An operator-readable database failure with a stable code; never carries query parameters. */
export class DatabaseError extends CodedError<DatabaseErrorCode> {
  override readonly name = "DatabaseError";
}

const SQLSTATE_CODES: Record<string, DatabaseErrorCode> = {
  "23505": "unique_violation",
  "23503": "foreign_key_violation",
  "23001": "foreign_key_violation",
  "23514": "check_violation",
  "23502": "not_null_violation",
};

/**
 * The SQLSTATE of a driver error, looking through drizzle's wrapper (whose message embeds the
 * query parameters and so must never be printed). Both postgres.js and PGlite set `code`.
 */
export function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** The violated constraint's name, when the driver reports it. */
export function violatedConstraint(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const record = current as { constraint?: unknown; constraint_name?: unknown };
    const name = record.constraint ?? record.constraint_name;
    if (typeof name === "string") return name;
    current = current.cause;
  }
  return undefined;
}

export function integrityErrorCode(error: unknown): DatabaseErrorCode | undefined {
  const state = sqlState(error);
  return state === undefined ? undefined : SQLSTATE_CODES[state];
}
