import { type CliErrorCode, CodedError, type ErrorCode } from "@imap-proxy/errors";

/** Exit codes: 1 = the operation failed, 2 = bad input (nothing was written), 130 = cancelled. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANCELLED = 130;

/** The error codes whose exit status is not EXIT_FAILURE. */
const EXIT_CODES: Partial<Record<ErrorCode, number>> = {
  invalid_input: EXIT_USAGE,
  missing_input: EXIT_USAGE,
  secret_in_argv: EXIT_USAGE,
  unreadable_secret_file: EXIT_USAGE,
  invalid_tracking_secret: EXIT_USAGE,
  // The operator's own input to tokens:issue (--permission, --expires-in).
  unknown_permission: EXIT_USAGE,
  permission_renamed: EXIT_USAGE,
  invalid_expiry: EXIT_USAGE,
  port_mode_mismatch: EXIT_USAGE,
  confirmation_required: EXIT_USAGE,
  no_mailboxes: EXIT_USAGE,
  cancelled: EXIT_CANCELLED,
};

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code] ?? EXIT_FAILURE;
}

/** An operator-facing failure raised by the CLI itself: one line, a stable code, never a secret. */
export class CliError extends CodedError<CliErrorCode> {
  override readonly name = "CliError";
}

export class CancelledError extends CliError {
  constructor() {
    super("cancelled", "Cancelled");
  }
}
