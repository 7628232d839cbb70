import { CodedError, type DatabaseErrorCode, isCodedError } from "@imap-proxy/errors";
import { DrizzleQueryError } from "drizzle-orm";

export type { DatabaseErrorCode };

/** An operator-readable database failure with a stable code; never carries query parameters. */
export class DatabaseError extends CodedError<DatabaseErrorCode> {
  override readonly name = "DatabaseError";
}

/**
 * What a driver said about a failed statement, with nothing it was given: the SQLSTATE, the
 * constraint/table/column it names, the SQL text (placeholders only) and the driver's message
 * with every quoted value and parameter blanked. The cause of a mapped DatabaseError, for
 * `--debug`; the driver's own error (whose `parameters`, `detail` and drizzle wrapper carry the
 * values, ciphertexts included) is dropped.
 */
export class DriverFailure extends Error {
  override readonly name = "DriverFailure";
  constructor(
    message: string,
    readonly sqlState: string | undefined,
    readonly constraint: string | undefined,
    readonly table: string | undefined,
    readonly column: string | undefined,
    readonly query: string | undefined,
  ) {
    super(message);
  }
}

const SQLSTATE_CODES: Record<string, DatabaseErrorCode> = {
  "23505": "unique_violation",
  "23503": "foreign_key_violation",
  "23001": "foreign_key_violation",
  "23514": "check_violation",
  "23502": "not_null_violation",
};

/** postgres.js / Node socket codes meaning the server is out of reach, not the statement wrong. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ENOENT",
]);

/** The errors along a cause chain, outermost first (bounded: chains can be cyclic). */
function chain(error: unknown): Error[] {
  const errors: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && errors.length < 8 && !errors.includes(current)) {
    errors.push(current);
    current = current.cause;
  }
  return errors;
}

function stringField(error: Error, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = (error as unknown as Record<string, unknown>)[name];
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

/**
 * The SQLSTATE of a driver error, looking through drizzle's wrapper (whose message embeds the
 * query parameters and so must never be printed). Both postgres.js and PGlite set `code`.
 */
export function sqlState(error: unknown): string | undefined {
  for (const link of chain(error)) {
    const code = stringField(link, "code");
    if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** The violated constraint's name, when the driver reports it. */
export function violatedConstraint(error: unknown): string | undefined {
  for (const link of chain(error)) {
    const name = stringField(link, "constraint", "constraint_name");
    if (name !== undefined) return name;
  }
  return undefined;
}

export function integrityErrorCode(error: unknown): DatabaseErrorCode | undefined {
  const state = sqlState(error);
  return state === undefined ? undefined : SQLSTATE_CODES[state];
}

/** The values a statement was given, as the drivers and drizzle keep them. */
function parametersOf(errors: readonly Error[]): unknown[] {
  return errors.flatMap((error) => {
    const record = error as unknown as Record<string, unknown>;
    return [record.params, record.parameters].flatMap((list): unknown[] =>
      Array.isArray(list) ? (list as unknown[]) : [],
    );
  });
}

/** Words Postgres puts before a quoted name (kept); any other quoted text is a value (blanked). */
const QUOTED_NAME =
  /\b(relation|table|constraint|column|index|type|schema|function|trigger|sequence|enum|encoding|database|role|operator|extension|view|domain|collation|savepoint|cursor|statement|portal)\s+$/i;

/** A driver message with every parameter and every quoted value replaced by `…`. */
export function redactDriverMessage(message: string, parameters: readonly unknown[]): string {
  let text = message;
  const values = parameters
    .map((value) =>
      value instanceof Uint8Array ? Buffer.from(value).toString("latin1") : String(value),
    )
    .filter((value) => value.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const value of values) text = text.split(value).join("…");
  text = text.replace(/"(?:[^"]|"")*"/g, (quoted, offset: number) =>
    QUOTED_NAME.test(text.slice(0, offset)) ? quoted : '"…"',
  );
  return text.replace(/\s+/g, " ").trim().slice(0, 500);
}

function isDriverFailure(errors: readonly Error[]): boolean {
  return errors.some((error) => {
    const record = error as unknown as Record<string, unknown>;
    const code = stringField(error, "code");
    return (
      error instanceof DrizzleQueryError ||
      "params" in record ||
      "parameters" in record ||
      (code !== undefined && (/^[0-9A-Z]{5}$/.test(code) || CONNECTION_CODES.has(code)))
    );
  });
}

function databaseCode(state: string | undefined, errors: readonly Error[]): DatabaseErrorCode {
  if (state !== undefined) {
    const integrity = SQLSTATE_CODES[state];
    if (integrity !== undefined) return integrity;
    if (state.startsWith("22")) return "invalid_input";
    if (/^(08|57P0|53300)/.test(state)) return "database_unavailable";
    return "database_failed";
  }
  // PGlite's own "closed" error has no code: the embedded database is gone, like a lost server.
  const unreachable = errors.some(
    (error) =>
      CONNECTION_CODES.has(stringField(error, "code") ?? "") ||
      error.message === "PGlite is closed",
  );
  return unreachable ? "database_unavailable" : "database_failed";
}

/**
 * Any failure of database work as a typed error that can be printed: a CodedError passes
 * through; a driver or drizzle error becomes a DatabaseError whose message and cause
 * (DriverFailure) hold no parameter; anything else (a bug in our code) is left as it is.
 */
export function toDatabaseError(error: unknown): unknown {
  if (isCodedError(error)) return error;
  const errors = chain(error);
  if (!isDriverFailure(errors)) return error;
  // The innermost error is the driver's; drizzle's wrapper is only a prefix of parameters.
  const driver = errors[errors.length - 1]!;
  const state = sqlState(error);
  const constraint = violatedConstraint(error);
  const table = errors.map((e) => stringField(e, "table", "table_name")).find(Boolean);
  const column = errors.map((e) => stringField(e, "column", "column_name")).find(Boolean);
  const query = errors.map((e) => stringField(e, "query")).find(Boolean);
  const driverText = driver instanceof DrizzleQueryError ? "" : driver.message;
  const redacted = redactDriverMessage(driverText, parametersOf(errors));
  const cause = new DriverFailure(
    [state === undefined ? stringField(driver, "code") : `SQLSTATE ${state}`, redacted]
      .filter(Boolean)
      .join(": "),
    state,
    constraint,
    table,
    column,
    query,
  );
  // The statement's call site, without the first line (which repeats the unredacted message).
  const frames = (driver.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  cause.stack = [`${cause.name}: ${cause.message}`, ...frames].join("\n");
  const code = databaseCode(state, errors);
  return new DatabaseError(code, databaseMessage(code, constraint, table, redacted, state), {
    cause,
  });
}

function databaseMessage(
  code: DatabaseErrorCode,
  constraint: string | undefined,
  table: string | undefined,
  redacted: string,
  state: string | undefined,
): string {
  switch (code) {
    case "unique_violation":
    case "foreign_key_violation":
    case "check_violation":
    case "not_null_violation":
      return `The database refused the change (${code.replaceAll("_", " ")}${constraint === undefined ? "" : ` ${constraint}`}${table === undefined || constraint?.startsWith(table) ? "" : ` on ${table}`}).`;
    case "invalid_input":
      return `The database refused a value: ${redacted}.`;
    case "database_unavailable":
      return `The database is unavailable (${redacted || "connection lost"}).`;
    default:
      return `The database could not run a statement (${state === undefined ? "" : `SQLSTATE ${state}: `}${redacted || "no reason given"}).`;
  }
}

/**
 * Wraps a repository or queue operation so that whatever the database throws leaves it as a
 * DatabaseError without query parameters (`toDatabaseError`). The operation's type is kept.
 */
export function withDatabaseErrors<Operation extends (...args: never[]) => unknown>(
  operation: Operation,
): Operation {
  const mapped = (...args: Parameters<Operation>) => {
    let result: unknown;
    try {
      result = operation(...args);
    } catch (error) {
      throw toDatabaseError(error);
    }
    return result instanceof Promise
      ? result.catch((error: unknown) => {
          throw toDatabaseError(error);
        })
      : result;
  };
  Object.defineProperty(mapped, "name", { value: operation.name });
  return mapped as Operation;
}
