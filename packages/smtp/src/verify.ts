import type { TLSSocket } from "node:tls";
import { credentialScrubber } from "@imap-proxy/errors";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { SmtpError, classifySmtpError } from "./errors.ts";
import {
  DEFAULT_SMTP_TIMEOUT_MS,
  type SmtpPolicyOptions,
  type SmtpSettings,
  smtpConnectionOptions,
} from "./policy.ts";

export interface SmtpVerification {
  /** The host name the server gave in its EHLO reply. */
  serverName: string | undefined;
  tlsProtocol: string | undefined;
  tlsCipher: string | undefined;
  certificateSubject: string | undefined;
  certificateExpiresAt: string | undefined;
}

/**
 * Connects with the policy's options, upgrades, authenticates and quits: sends no mail. A server
 * that offers no AUTH is a failure (`auth_unavailable`), never a silent success.
 */
export async function verifySmtp(
  settings: SmtpSettings,
  options: SmtpPolicyOptions = {},
): Promise<SmtpVerification> {
  const scrub = credentialScrubber(settings);
  const connection = new SMTPConnection(smtpConnectionOptions(settings, options));
  const overall = (options.timeoutMs ?? DEFAULT_SMTP_TIMEOUT_MS) * 3;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<SmtpVerification>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new SmtpError("timeout", `no result after ${overall} ms`)),
        overall,
      );
      connection.once("error", (error: unknown) => reject(classifySmtpError(error, scrub)));
      connection.once("end", () =>
        reject(new SmtpError("connection_failed", "the server closed the connection")),
      );
      connection.connect(() => {
        // nodemailer's internals hold the socket; read-only use for the report.
        const socket = (connection as unknown as { _socket?: TLSSocket })._socket;
        if (
          !connection.secure ||
          socket === undefined ||
          typeof socket.getProtocol !== "function"
        ) {
          reject(new SmtpError("tls_unavailable", "the connection is not encrypted"));
          return;
        }
        if (!connection.allowsAuth) {
          reject(new SmtpError("auth_unavailable", "no AUTH in the EHLO reply"));
          return;
        }
        const ehlo = String(connection.lastServerResponse || "");
        const serverName = /^250[ -](\S+)/.exec(ehlo)?.[1];
        const certificate = socket.getPeerCertificate();
        const report: SmtpVerification = {
          serverName,
          tlsProtocol: socket.getProtocol() ?? undefined,
          tlsCipher: socket.getCipher()?.name,
          certificateSubject: [certificate?.subject?.CN ?? []].flat().join(", ") || undefined,
          certificateExpiresAt: certificate?.valid_to
            ? new Date(certificate.valid_to).toISOString()
            : undefined,
        };
        connection.login({ user: settings.username, pass: settings.password }, (error) => {
          if (error) {
            reject(classifySmtpError(error, scrub));
            return;
          }
          resolve(report);
        });
      });
    });
  } finally {
    clearTimeout(timer);
    connection.removeAllListeners("end");
    connection.on("error", () => {});
    try {
      connection.quit();
    } catch {
      connection.close();
    }
  }
}
