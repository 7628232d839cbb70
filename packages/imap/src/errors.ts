import { CodedError, type ImapErrorCode } from "@imap-proxy/errors";

export type ImapFailureCode = ImapErrorCode;

const EXPLANATIONS: Record<ImapFailureCode, string> = {
  tls_unavailable:
    "the server did not offer STARTTLS or refused it; nothing was sent in plaintext (is this an implicit-TLS port such as 993?)",
  tls_failed:
    "the TLS handshake or certificate check failed (unknown CA, wrong hostname, expired or self-signed certificate, or a TLS/plaintext port mismatch)",
  auth_failed: "the server rejected the username or password",
  auth_unavailable: "the server offers no way to log in on this connection",
  connection_failed: "the server could not be reached or closed the connection",
  timeout:
    "the server did not answer in time (often a wrong port, or starttls_required on an implicit-TLS port)",
  sent_folder_missing:
    "no folder is marked \\Sent and the configured Sent folder name does not exist",
  message_too_large: "the message is larger than the server's APPENDLIMIT",
  command_failed: "the server refused an IMAP command",
};

/** A typed, operator-readable IMAP failure. Never carries the password. */
export class ImapError extends CodedError<ImapFailureCode> {
  override readonly name = "ImapError";
  constructor(
    code: ImapFailureCode,
    /** What the server or TLS layer said, scrubbed of secrets (may be empty). */
    readonly detail: string,
  ) {
    super(code, `IMAP ${code}: ${EXPLANATIONS[code]}${detail ? ` (${detail})` : ""}.`);
  }
}

const CERTIFICATE_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ERR_SSL|ERR_TLS|DEPTH_ZERO|HOSTNAME/;

/** Maps imapflow's errors (and Node's socket/TLS codes) to our set. */
export function classifyImapError(error: unknown, scrub: (text: string) => string): ImapError {
  if (error instanceof ImapError) return error;
  const e = (error ?? {}) as {
    code?: string;
    message?: string;
    tlsFailed?: boolean;
    authenticationFailed?: boolean;
    responseText?: string;
    serverResponseCode?: string;
  };
  const code = e.code ?? "";
  const detail = scrub(
    [e.message, e.responseText].filter(Boolean).join(": ") || String(error),
  ).slice(0, 300);
  if (e.tlsFailed && /STARTTLS|PREAUTH|transport can not start TLS/i.test(detail)) {
    return new ImapError("tls_unavailable", detail);
  }
  if (/TIMEOUT/i.test(code) || code === "ETIMEDOUT" || /timed? ?out/i.test(detail)) {
    return new ImapError("timeout", [code, detail].filter(Boolean).join(": "));
  }
  if (
    e.tlsFailed ||
    CERTIFICATE_CODES.test(code) ||
    /certificate|wrong version number|ssl/i.test(detail)
  ) {
    return new ImapError("tls_failed", [code, detail].filter(Boolean).join(": "));
  }
  if (e.authenticationFailed) {
    return /Login is disabled|No matching authentication method|No password configured/i.test(
      detail,
    )
      ? new ImapError("auth_unavailable", detail)
      : new ImapError("auth_failed", detail);
  }
  if (/^E[A-Z]+$/.test(code) || /NoConnection|EConnectionClosed|ClosedAfterConnect/.test(code)) {
    return new ImapError("connection_failed", [code, detail].filter(Boolean).join(": "));
  }
  return new ImapError("command_failed", [code, detail].filter(Boolean).join(": "));
}
