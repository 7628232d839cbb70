import { isIP } from "node:net";
import { readCaBundle, trustOptions } from "@imap-proxy/tls";
import type { ImapFlowOptions } from "imapflow";

export type ImapTlsMode = "implicit" | "starttls_required";

export interface ImapSettings {
  host: string;
  port: number;
  tlsMode: ImapTlsMode;
  username: string;
  password: string;
}

export interface ImapPolicyOptions {
  /** Extra trusted CA certificates (PEM), added to the system's roots, for self-hosted servers. */
  extraCa?: string;
  /** Bounds connecting, the greeting and the TLS upgrade (default 15 s). */
  timeoutMs?: number;
  /** Inactivity bound on an open connection (default 5 min; IDLE is renewed well within it). */
  socketTimeoutMs?: number;
}

export const DEFAULT_IMAP_TIMEOUT_MS = 15_000;
export const DEFAULT_IMAP_SOCKET_TIMEOUT_MS = 300_000;

/**
 * `IMAP_CA_FILE`: one PEM bundle for the installation, trusted in addition to Node's defaults;
 * verification itself is never optional. An unreadable file is an error naming it.
 */
export function imapExtraCaFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return readCaBundle("IMAP_CA_FILE", env);
}

/**
 * The one mapping from a mailbox's IMAP settings to imapflow options. Everything that talks
 * IMAP uses it, so the TLS promise is decided once:
 * - `implicit`: TLS from the first byte (`secure: true`, `doSTARTTLS: false`).
 * - `starttls_required`: plaintext greeting, then STARTTLS is mandatory (`doSTARTTLS: true`):
 *   imapflow throws before LOGIN/AUTHENTICATE if it is not offered, refused, or the greeting was
 *   PREAUTH. Its default (`undefined`) would continue in plaintext, so it is never left unset.
 * - both: certificate and hostname verification on, SNI = the host (not for IP literals, which
 *   are still checked against the certificate's IP names), TLS 1.2 or newer. `secure` is always
 *   explicit, so imapflow's "port 993 means TLS" guess never applies.
 */
export function imapConnectionOptions(
  settings: ImapSettings,
  options: ImapPolicyOptions = {},
): ImapFlowOptions {
  const timeout = options.timeoutMs ?? DEFAULT_IMAP_TIMEOUT_MS;
  const implicit = settings.tlsMode === "implicit";
  return {
    host: settings.host,
    port: settings.port,
    secure: implicit,
    doSTARTTLS: !implicit,
    auth: { user: settings.username, pass: settings.password },
    ...(isIP(settings.host) === 0 ? { servername: settings.host } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: options.socketTimeoutMs ?? DEFAULT_IMAP_SOCKET_TIMEOUT_MS,
    logger: false,
    // The client identity is nobody's business; ID would otherwise announce library versions.
    clientInfo: { name: "imap-proxy" },
    tls: {
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      ...(options.extraCa ? trustOptions(options.extraCa) : {}),
    },
  };
}

const SELF_COPYING_HOSTS = [
  // Gmail and Google Workspace store every SMTP submission in "Sent Mail" themselves.
  /(^|\.)gmail\.com$/i,
  /(^|\.)googlemail\.com$/i,
  // Microsoft 365 / Outlook.com save submissions to Sent Items.
  /(^|\.)office365\.com$/i,
  /(^|\.)outlook\.com$/i,
];

export type SentCopyMode = "auto" | "on" | "off";

/** Whether the proxy should APPEND a Sent copy, given the mode and the mailbox's hosts. */
export function shouldCopyToSent(
  mode: SentCopyMode,
  hosts: { imapHost: string; smtpHost: string },
) {
  if (mode !== "auto") return mode === "on";
  const name = (host: string) => host.trim().replace(/\.$/, "");
  return ![hosts.imapHost, hosts.smtpHost].some((host) =>
    SELF_COPYING_HOSTS.some((pattern) => pattern.test(name(host))),
  );
}
