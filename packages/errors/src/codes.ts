/**
 * Every stable error code in the workspace, once, with what it means. A code is an interface:
 * the CLI maps codes to exit codes and the HTTP API maps them to statuses, so a code is never
 * renamed or reused for another meaning; a new situation gets a new code here.
 *
 * Grouped by the package whose typed error raises it; `GENERAL` codes are raised by several.
 * To add one: add it to its group with a one-line meaning, then (if it is not "operation
 * failed") give it an exit code in packages/cli/src/errors.ts and a status in the API's map.
 */
const group = <const T extends Record<string, string>>(codes: T): T => codes;

export const GENERAL_ERRORS = group({
  invalid_input: "a value is malformed or out of range; nothing was written",
  missing_input: "a required value was not given; nothing was written",
  not_found: "no record matches the given id or email",
  still_has_mail: "the mailbox still has queued or in-flight mail, so it cannot be deleted",
  cancelled: "the operator cancelled; nothing was written",
  unexpected_state: "an internal invariant did not hold (a bug, not bad input)",
  unsafe_permissions: "a key file or data directory may be read or written by other users",
});

export const DATABASE_ERRORS = group({
  database_busy: "another process holds the embedded database",
  lock_unavailable:
    "the embedded database's directory lock could not be taken (flock missing or failing)",
  migrations_pending: "the database schema is older than this version; run db:migrate",
  unique_violation: "a record with the same unique value already exists",
  foreign_key_violation: "the change refers to, or is referred to by, another record",
  check_violation: "the database refused a value its checks forbid",
  not_null_violation: "a required column was left empty",
  lease_lost: "a queue lease expired or was taken over before the work finished",
  invalid_transition: "the message is not in a state that allows this change",
  undecryptable_secret: "a stored secret is not decrypted by any configured key",
  database_unavailable: "the database could not be reached, or the connection to it was lost",
  database_failed: "the database could not run a statement; the message names its SQLSTATE",
});

export const CRYPTO_ERRORS = group({
  fernet_token_invalid: "a Fernet token was not made with any configured key, or was altered",
  invalid_key: "a configured Fernet key is malformed",
  missing_key: "no Fernet key is configured where one is required",
});

export const AUTH_ERRORS = group({
  invalid_config: "the JWT configuration (secret, keys, algorithm) is unusable",
  unknown_permission: "a permission name is not in the catalogue",
  permission_renamed: "a permission name was renamed; the message names the new one",
  invalid_expiry: "a token lifetime is malformed, missing or too long",
  malformed_token: "the token is not a well-formed JWT",
  algorithm_not_allowed: "the token is signed with an algorithm this service does not accept",
  bad_signature: "the token's signature does not verify",
  token_expired: "the token has expired",
  token_not_yet_valid: "the token is not valid yet",
  wrong_issuer: "the token was issued by someone else",
  wrong_audience: "the token is meant for another service",
  invalid_claims: "the token's claims are missing or malformed",
  permission_denied: "the token does not grant this permission",
});

/** Failures talking to a mail server; SMTP and IMAP share their meanings. */
export const CONNECTION_ERRORS = group({
  tls_unavailable: "the server did not offer or refused STARTTLS; nothing was sent in plaintext",
  tls_failed: "the TLS handshake or certificate check failed",
  auth_failed: "the server rejected the username or password",
  auth_unavailable: "the server offers no usable authentication on this connection",
  connection_failed: "the server could not be reached or closed the connection",
  timeout: "the server did not answer in time",
});

export const IMAP_ERRORS = group({
  ...CONNECTION_ERRORS,
  sent_folder_missing: "no Sent folder is marked or configured on the IMAP server",
  message_too_large: "the message is larger than the server accepts",
  command_failed: "the IMAP server refused a command",
});

export const TLS_ERRORS = group({
  unreadable_ca_file:
    "a configured CA bundle (SMTP_CA_FILE, IMAP_CA_FILE) cannot be read or holds no certificate",
});

export const TRACKING_ERRORS = group({
  invalid_tracking_secret: "the tracking secret is missing or too short",
});

/** Raised by the HTTP API only; codes shared with other packages (not_found, …) are theirs. */
export const API_ERRORS = group({
  validation_failed: "the request does not match the schema; `errors` names every bad field",
  malformed_json: "the request body is not valid JSON",
  tracking_unavailable: "tracking was asked for but PUBLIC_URL / TRACKING_SECRET are not set",
  invalid_token: "the bearer token is missing, malformed, badly signed, expired or revoked",
  insufficient_scope: "the bearer token does not grant this operation",
  idempotency_key_reused: "the Idempotency-Key was used before with a different request",
  unsupported_media_type: "the request body is not JSON",
  rate_limited: "too many requests for this token; retry after the Retry-After delay",
  internal_error: "an unexpected server error; the log has the details under the request id",
});

export const CLI_ERRORS = group({
  secret_in_argv: "a password was given on the command line, where it would leak",
  unreadable_secret_file: "a password file cannot be read",
  port_mode_mismatch: "the port contradicts the TLS mode and was not confirmed",
  confirmation_required: "the command needs confirmation (--yes) when it cannot prompt",
  no_mailboxes: "there is no mailbox yet to choose from",
});

export type GeneralErrorCode = keyof typeof GENERAL_ERRORS;
export type DatabaseErrorCode = keyof typeof DATABASE_ERRORS | GeneralErrorCode;
export type CryptoErrorCode = keyof typeof CRYPTO_ERRORS;
export type AuthErrorCode = keyof typeof AUTH_ERRORS;
export type SmtpErrorCode = keyof typeof CONNECTION_ERRORS;
export type ImapErrorCode = keyof typeof IMAP_ERRORS;
export type TrackingErrorCode = keyof typeof TRACKING_ERRORS;
export type TlsErrorCode = keyof typeof TLS_ERRORS;
export type ApiErrorCode = keyof typeof API_ERRORS;
export type CliErrorCode =
  keyof typeof CLI_ERRORS | GeneralErrorCode | SmtpErrorCode | ImapErrorCode;

/** Every code and its meaning (for documentation, `--help` and the API's problem types). */
export const ERROR_CODES = {
  ...GENERAL_ERRORS,
  ...DATABASE_ERRORS,
  ...CRYPTO_ERRORS,
  ...AUTH_ERRORS,
  ...IMAP_ERRORS,
  ...TRACKING_ERRORS,
  ...TLS_ERRORS,
  ...API_ERRORS,
  ...CLI_ERRORS,
};
export type ErrorCode = keyof typeof ERROR_CODES;
