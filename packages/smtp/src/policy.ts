import { isIP } from "node:net";
import { readCaBundle, trustOptions } from "@imap-proxy/tls";
import type { SMTPConnectionOptions } from "nodemailer/lib/smtp-connection";

export type SmtpTlsMode = "implicit" | "starttls_required";

export interface SmtpSettings {
  host: string;
  port: number;
  tlsMode: SmtpTlsMode;
  username: string;
  password: string;
}

export interface SmtpPolicyOptions {
  /** Extra trusted CA certificates (PEM), added to the system's roots, for self-hosted servers. */
  extraCa?: string;
  /** Bounds connecting, the greeting, the TLS upgrade and every later wait (default 15 s). */
  timeoutMs?: number;
  /** Name sent with EHLO (default: this machine's hostname). */
  clientName?: string;
}

export const DEFAULT_SMTP_TIMEOUT_MS = 15_000;

/**
 * `SMTP_CA_FILE`: one PEM bundle for the installation, trusted in addition to Node's defaults;
 * verification itself is never optional. An unreadable file is an error naming it.
 */
export function extraCaFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return readCaBundle("SMTP_CA_FILE", env);
}

/**
 * The one mapping from a mailbox's settings to nodemailer connection options. Everything that
 * talks SMTP uses it, so the TLS promise is decided once:
 * - `implicit`: TLS from the first byte (`secure`).
 * - `starttls_required`: plaintext connect, then STARTTLS is mandatory (`requireTLS`); if it is
 *   not offered or fails, nodemailer errors before AUTH.
 * - both: certificate and hostname verification on, SNI = the host, TLS 1.2 or newer, never
 *   `ignoreTLS` / `opportunisticTLS`. Nothing is inferred from the port number.
 */
export function smtpConnectionOptions(
  settings: SmtpSettings,
  options: SmtpPolicyOptions = {},
): SMTPConnectionOptions {
  const timeout = options.timeoutMs ?? DEFAULT_SMTP_TIMEOUT_MS;
  return {
    host: settings.host,
    port: settings.port,
    secure: settings.tlsMode === "implicit",
    requireTLS: settings.tlsMode === "starttls_required",
    ignoreTLS: false,
    opportunisticTLS: false,
    ...(options.clientName ? { name: options.clientName } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    dnsTimeout: timeout,
    logger: false,
    debug: false,
    tls: {
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      // SNI carries names only (RFC 6066); an IP literal is still checked against the cert's IP SANs.
      ...(isIP(settings.host) === 0 ? { servername: settings.host } : {}),
      ...(options.extraCa ? trustOptions(options.extraCa) : {}),
    },
  };
}
