/** Exit codes: 1 = the operation failed, 2 = bad input (nothing was written), 130 = cancelled. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANCELLED = 130;

/** An operator-facing failure: one line, a stable code, never a secret. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(code: string, message: string) {
    super(code, message, EXIT_USAGE);
  }
}

export class CancelledError extends CliError {
  constructor() {
    super("cancelled", "Cancelled", EXIT_CANCELLED);
  }
}

/** Typed errors from the other packages carry a `code` and a message written for operators. */
export function isOperatorError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === "string" &&
    [
      "CliError",
      "DatabaseError",
      "AuthError",
      "InvalidKeyError",
      "InvalidTokenError",
      "MissingKeyError",
      "UnsafeKeyFileError",
      "SmtpError",
    ].includes(error.name)
  );
}
