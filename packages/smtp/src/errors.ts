import { CodedError, type SmtpErrorCode } from "@imap-proxy/errors";

export type SmtpFailureCode = SmtpErrorCode;

const EXPLANATIONS: Record<SmtpFailureCode, string> = {
  tls_unavailable:
    "the server did not offer STARTTLS or refused it; nothing was sent in plaintext (is this an implicit-TLS port such as 465?)",
  tls_failed:
    "the TLS handshake or certificate check failed (unknown CA, wrong hostname, expired or self-signed certificate, or a TLS/plaintext port mismatch)",
  auth_failed: "the server rejected the username or password",
  auth_unavailable:
    "the server offers no authentication on this connection, so the credentials cannot be used",
  connection_failed: "the server could not be reached or closed the connection",
  timeout:
    "the server did not answer in time (often a wrong port, or starttls_required on an implicit-TLS port)",
};

/** A typed, operator-readable SMTP failure. Never carries the password. */
export class SmtpError extends CodedError<SmtpFailureCode> {
  override readonly name = "SmtpError";
  constructor(
    code: SmtpFailureCode,
    /** What the server or TLS layer said, scrubbed of secrets (may be empty). */
    readonly detail: string,
  ) {
    super(code, `SMTP ${code}: ${EXPLANATIONS[code]}${detail ? ` (${detail})` : ""}.`);
  }
}

const CERTIFICATE_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ERR_SSL|ERR_TLS|DEPTH_ZERO|HOSTNAME/;

/** Maps nodemailer's error codes (and the TLS codes it keeps in `originalCode`) to our set. */
export function classifySmtpError(error: unknown, scrub: (text: string) => string): SmtpError {
  if (error instanceof SmtpError) return error;
  const e = (error ?? {}) as {
    code?: string;
    originalCode?: string;
    message?: string;
    command?: string;
  };
  const code = e.code ?? "";
  const original = e.originalCode ?? "";
  const detail = scrub(String(e.message ?? "")).slice(0, 300);
  const tlsDetail = [original, detail].filter(Boolean).join(": ");
  if (code === "ETIMEDOUT" || original === "ETIMEDOUT" || /timeout/i.test(detail))
    return new SmtpError("timeout", detail);
  if (code === "EAUTH") return new SmtpError("auth_failed", detail);
  if (code === "ETLS") {
    // "Error upgrading connection with STARTTLS" = refused; requireTLS without STARTTLS on offer
    // also surfaces as a refused STARTTLS command.
    if (
      /upgrading connection with STARTTLS/i.test(detail) ||
      (e.command === "STARTTLS" && !/initiating TLS/i.test(detail))
    ) {
      return new SmtpError("tls_unavailable", detail);
    }
    return new SmtpError("tls_failed", tlsDetail);
  }
  if (
    CERTIFICATE_CODES.test(original) ||
    CERTIFICATE_CODES.test(code) ||
    /certificate|wrong version number|ssl/i.test(detail)
  ) {
    return new SmtpError("tls_failed", tlsDetail);
  }
  return new SmtpError("connection_failed", tlsDetail || code);
}
