// A private Dovecot (Debian's dovecot-imapd + dovecot-lmtpd) for tests: its own dovecot.conf
// (2.3 syntax), maildirs, passwd-file and logs in a temp directory, loopback ports only.
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestPki } from "./pki.ts";
import { freePort, startRelay, waitForPort } from "./tcp.ts";

export const IMAP_USERNAME = "owner@example.test";
export const IMAP_PASSWORD = "Tr0ub4dor-and-3-more-words";

export interface RunningDovecot {
  dir: string;
  /** TLS from the first byte. */
  implicitPort: number;
  /** Plaintext greeting, STARTTLS offered. */
  starttlsPort: number;
  /** LMTP (plaintext, loopback) for local delivery, e.g. from Exim. */
  lmtpPort: number;
  /** The user's maildir root. */
  maildir(user?: string): string;
  log(): string;
  /** Runs doveadm against this instance (e.g. to inspect a folder). */
  doveadm(...args: string[]): string;
  close(): Promise<void>;
}

export function dovecotBinary(): string | undefined {
  for (const candidate of [process.env.IMAP_PROXY_DOVECOT, "/usr/sbin/dovecot"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface DovecotOptions {
  /** Extra users beyond IMAP_USERNAME (all share IMAP_PASSWORD). */
  users?: string[];
  /** false: the Sent folder exists but carries no \\Sent flag (the configured-name fallback). */
  sentSpecialUse?: boolean;
  /** Set APPENDLIMIT (bytes) to exercise the size check. */
  appendLimit?: number;
}

export async function startDovecot(
  pki: TestPki,
  options: DovecotOptions = {},
): Promise<RunningDovecot> {
  const dovecot = dovecotBinary();
  if (dovecot === undefined) throw new Error("dovecot is not installed");
  const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-dovecot-"));
  // Three distinct ports: the kernel may hand the same just-freed port out twice.
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [implicitPort, starttlsPort, lmtpPort] = [...ports] as [number, number, number];
  // Dovecot's auth and mail processes run as the dovecot user: they must reach the directory.
  chmodSync(dir, 0o755);
  for (const sub of ["run", "state", "mail"]) mkdirSync(path.join(dir, sub));
  writeFileSync(path.join(dir, "server.pem"), pki.server.cert);
  writeFileSync(path.join(dir, "server.key"), pki.server.key, { mode: 0o600 });
  const users = [IMAP_USERNAME, ...(options.users ?? [])];
  writeFileSync(
    path.join(dir, "users"),
    users.map((user) => `${user}:{PLAIN}${IMAP_PASSWORD}::::::\n`).join(""),
  );
  const config = `
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = imap-proxy-test-${path.basename(dir)}
log_path = ${dir}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <${dir}/server.pem
ssl_key = <${dir}/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
first_valid_uid = 1
mail_uid = dovecot
mail_gid = dovecot
mail_location = maildir:${dir}/mail/%u
mail_plugins = $mail_plugins
mail_max_userip_connections = 50
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=${dir}/mail/%u allow_all_users=yes
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    auto = subscribe
    ${options.sentSpecialUse === false ? "" : "special_use = \\Sent"}
  }
  mailbox Junk {
    auto = subscribe
    special_use = \\Junk
  }
  mailbox Drafts {
    special_use = \\Drafts
  }
}
protocol imap {
  ${options.appendLimit ? `imap_capability = +APPENDLIMIT=${options.appendLimit}` : ""}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${starttlsPort}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${implicitPort}
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
  unix_listener lmtp {
    mode = 0666
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
lmtp_save_to_detail_mailbox = no
`;
  const configFile = path.join(dir, "dovecot.conf");
  writeFileSync(configFile, config);
  execFileSync("chown", ["-R", "dovecot:dovecot", path.join(dir, "mail")]);
  const daemon = spawn(dovecot, ["-F", "-c", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  daemon.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  daemon.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  const log = () => {
    try {
      return readFileSync(path.join(dir, "dovecot.log"), "utf8");
    } catch {
      return "";
    }
  };
  for (const port of [implicitPort, starttlsPort, lmtpPort]) {
    await waitForPort(port, daemon, () => output + log());
  }
  return {
    dir,
    implicitPort,
    starttlsPort,
    lmtpPort,
    maildir: (user = IMAP_USERNAME) => path.join(dir, "mail", user),
    log,
    doveadm: (...args) =>
      execFileSync("doveadm", ["-c", configFile, ...args], { encoding: "utf8" }),
    async close() {
      daemon.kill("SIGTERM");
      await new Promise((resolve) =>
        daemon.exitCode !== null ? resolve(null) : daemon.once("exit", resolve),
      );
    },
  };
}

/**
 * A man-in-the-middle in front of a STARTTLS port: it removes STARTTLS from everything the
 * server says (a downgrade attack) and records every byte the client sends. Dovecot trusts
 * loopback, so a client that falls back to plaintext here would log in in the clear.
 */
export function startStrippingRelay(target: number) {
  const strip = (chunk: Buffer) =>
    Buffer.from(chunk.toString("latin1").replace(/ STARTTLS/g, ""), "latin1");
  return startRelay(target, { hooks: () => ({ fromServer: strip }) });
}
