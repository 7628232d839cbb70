// A private Exim that accepts mail for one local domain and delivers it over LMTP into a
// private Dovecot; mail for unknown local users is accepted, then fails, and Exim sends its own
// delivery status notification (a real DSN) back to the sender, into the same Dovecot.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PLAIN_AUTHENTICATOR, eximPrivateDaemon, runExim } from "./exim.ts";
import type { TestPki } from "./pki.ts";
import { freePort } from "./tcp.ts";

export interface RunningEximToDovecot {
  /** Plain SMTP on loopback, no AUTH: a local MTA. */
  port: number;
  /**
   * With `submission`: a port that requires STARTTLS (the test CA's localhost certificate) and
   * AUTH as credentials.ts's USERNAME/PASSWORD before it takes mail, as a mailbox's own SMTP
   * server would; the mail then goes the same way (delivered, or bounced by Exim's own DSN).
   */
  submissionPort: number | undefined;
  mainLog(): string;
  close(): Promise<void>;
}

export async function startEximToDovecot(options: {
  lmtpPort: number;
  domain: string;
  /** Local parts that exist (delivered over LMTP); any other local part bounces. */
  users: string[];
  submission?: { pki: TestPki };
}): Promise<RunningEximToDovecot> {
  const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-exim-lmtp-"));
  const port = await freePort();
  let submissionPort: number | undefined;
  while (options.submission && (submissionPort === undefined || submissionPort === port))
    submissionPort = await freePort();
  for (const sub of ["spool", "log"]) mkdirSync(path.join(dir, sub));
  if (options.submission) {
    writeFileSync(path.join(dir, "server.pem"), options.submission.pki.server.cert);
    writeFileSync(path.join(dir, "server.key"), options.submission.pki.server.key, { mode: 0o644 });
  }
  const submission =
    submissionPort === undefined
      ? { global: "tls_advertise_hosts =", authenticators: "" }
      : {
          global: `tls_certificate = ${dir}/server.pem
tls_privatekey = ${dir}/server.key
tls_advertise_hosts = \${if eq{$received_port}{${submissionPort}}{*}{}}
auth_advertise_hosts = \${if eq{$tls_in_cipher}{}{}{*}}`,
          authenticators: `
begin authenticators

${PLAIN_AUTHENTICATOR}`,
        };
  const config = `
primary_hostname = mx.${options.domain}
qualify_domain = ${options.domain}
domainlist local_domains = ${options.domain}
${eximPrivateDaemon(dir)}
daemon_smtp_ports = ${port}${submissionPort === undefined ? "" : ` : ${submissionPort}`}
host_lookup =
rfc1413_hosts =
${submission.global}
acl_smtp_rcpt = acl_check_rcpt

begin acl

acl_check_rcpt:
${submissionPort === undefined ? "" : `  deny condition = \${if eq{$received_port}{${submissionPort}}{yes}{no}}\n       !authenticated = *\n       message = authentication required\n`}  accept domains = +local_domains
  deny message = relay not permitted
${submission.authenticators}
begin routers

known_users:
  driver = accept
  domains = +local_domains
  local_parts = ${options.users.join(" : ")}
  transport = dovecot_lmtp

unknown_users:
  driver = redirect
  domains = +local_domains
  allow_fail
  data = :fail: Unknown user

begin transports

dovecot_lmtp:
  driver = smtp
  protocol = lmtp
  hosts = 127.0.0.1
  port = ${options.lmtpPort}
  allow_localhost
  hosts_avoid_tls = *

begin retry

* * F,1m,1m
`;
  const daemon = await runExim(
    dir,
    config,
    submissionPort === undefined ? [port] : [port, submissionPort],
    ["spool", "log"],
  );
  return {
    port,
    submissionPort,
    mainLog: daemon.mainLog,
    close: daemon.stop,
  };
}
