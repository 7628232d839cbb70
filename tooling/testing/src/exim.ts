// A private Exim daemon (Debian's exim4-daemon-light) playing every server of the SMTP verification matrix.
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PASSWORD, USERNAME } from "./credentials.ts";
import type { TestPki } from "./pki.ts";
import { freePort, startRecordingRelay, type RecordingRelay, waitForPort } from "./tcp.ts";

/** A private Exim's own files in `dir`, on loopback only, as the Debian-exim user. */
export const eximPrivateDaemon = (dir: string) => `exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
pid_file_path = ${dir}/exim.pid
local_interfaces = <; 127.0.0.1`;

/** AUTH PLAIN as credentials.ts's USERNAME/PASSWORD: an entry for `begin authenticators`. */
export const PLAIN_AUTHENTICATOR = `PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{$auth2}{${USERNAME}}}{eq{$auth3}{${PASSWORD}}}}}
  server_set_id = $auth2
`;

/** The server variants of the verification matrix. */
export type PeerVariant =
  "starttls" | "no_starttls" | "implicit" | "other_host" | "self_signed" | "no_auth";
export const PEER_VARIANTS: PeerVariant[] = [
  "starttls",
  "no_starttls",
  "implicit",
  "other_host",
  "self_signed",
  "no_auth",
];

export interface RunningExim {
  /** The relay port in front of each variant's Exim port. */
  relays: Record<PeerVariant, RecordingRelay>;
  /**
   * With `deliverDomain`: the files delivered to `local@domain`, oldest first (maildir `new/`).
   * Local parts starting with `unknown` are refused at RCPT with a real 550 5.1.1.
   */
  delivered(localPart: string): Buffer[];
  /** Exim's main log so far (shows authenticator results). */
  mainLog(): string;
  close(): Promise<void>;
}

/** The Exim binary when Debian's exim4 is installed (`.ci/run` installs it). */
export function eximBinary(): string | undefined {
  for (const candidate of [process.env.IMAP_PROXY_EXIM, "/usr/sbin/exim4", "/usr/sbin/exim"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * A private Exim daemon on loopback ports with its own configuration, spool and logs in a temp
 * directory (no system mail configuration is read or changed). One port per matrix variant:
 * TLS certificate, STARTTLS and AUTH advertisement are chosen by $received_port.
 */
export async function startExim(
  pki: TestPki,
  options: { deliverDomain?: string } = {},
): Promise<RunningExim> {
  const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-exim-"));
  const ports = {} as Record<PeerVariant, number>;
  for (const variant of PEER_VARIANTS) ports[variant] = await freePort();
  const files = {
    server: [pki.server.cert, pki.server.key],
    other: [pki.otherHost.cert, pki.otherHost.key],
    self: [pki.selfSigned.cert, pki.selfSigned.key],
  } as const;
  for (const [name, [cert, key]] of Object.entries(files)) {
    writeFileSync(path.join(dir, `${name}.pem`), cert);
    writeFileSync(path.join(dir, `${name}.key`), key, { mode: 0o644 });
  }
  for (const sub of ["spool", "log", "maildir"]) mkdirSync(path.join(dir, sub));
  const domain = options.deliverDomain;
  // Authenticated clients may send to the local domain, which is delivered into
  // one maildir with CRLF line ends (the bytes as received, plus Envelope-to and Received);
  // Exim refuses a maildir path built from the (tainted) local part, so Envelope-to tells apart.
  const delivery =
    domain === undefined
      ? ""
      : `
begin acl

acl_check_rcpt:
  deny    domains = ${domain}
          local_parts = ^unknown
          message = 5.1.1 <$local_part@$domain>: no such user here
  accept  authenticated = *
          domains = ${domain}
  deny    message = 5.7.1 relay not permitted

begin routers

local_maildir:
  driver = accept
  domains = ${domain}
  transport = maildir_delivery

begin transports

maildir_delivery:
  driver = appendfile
  directory = ${dir}/maildir/all
  maildir_format
  create_directory
  use_crlf
  delivery_date_add = false
  envelope_to_add = true
  return_path_add = false
  user = Debian-exim
  group = Debian-exim
  mode = 0644
`;
  const byPort = (other: string, self: string, fallback: string) =>
    `\${if eq{$received_port}{${ports.other_host}}{${other}}{\${if eq{$received_port}{${ports.self_signed}}{${self}}{${fallback}}}}}`;
  const config = `
primary_hostname = exim.test.example
${eximPrivateDaemon(dir)}
daemon_smtp_ports = ${PEER_VARIANTS.map((v) => ports[v]).join(" : ")}
tls_on_connect_ports = ${ports.implicit}
tls_certificate = ${byPort(`${dir}/other.pem`, `${dir}/self.pem`, `${dir}/server.pem`)}
tls_privatekey = ${byPort(`${dir}/other.key`, `${dir}/self.key`, `${dir}/server.key`)}
tls_advertise_hosts = \${if eq{$received_port}{${ports.no_starttls}}{}{*}}
auth_advertise_hosts = \${if or{{eq{$received_port}{${ports.no_auth}}}{eq{$tls_in_cipher}{}}}{}{*}}
host_lookup =
rfc1413_hosts =
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error
${domain === undefined ? "" : "acl_smtp_rcpt = acl_check_rcpt\nqualify_domain = " + domain}

begin authenticators

${PLAIN_AUTHENTICATOR}
LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = \${if and {{eq{$auth1}{${USERNAME}}}{eq{$auth2}{${PASSWORD}}}}}
  server_set_id = $auth1
${delivery}`;
  const daemon = await runExim(
    dir,
    config,
    PEER_VARIANTS.map((variant) => ports[variant]),
    ["spool", "log", "maildir"],
  );
  const relays = {} as Record<PeerVariant, RecordingRelay>;
  for (const variant of PEER_VARIANTS) relays[variant] = await startRecordingRelay(ports[variant]);
  return {
    relays,
    delivered(localPart) {
      const folder = path.join(dir, "maildir", "all", "new");
      if (!existsSync(folder)) return [];
      const envelopeTo = `Envelope-to: ${localPart}@${domain}\r\n`.toLowerCase();
      return readdirSync(folder)
        .map((name) => ({ name, at: statSync(path.join(folder, name)).mtimeMs }))
        .sort((a, b) => a.at - b.at || a.name.localeCompare(b.name))
        .map(({ name }) => readFileSync(path.join(folder, name)))
        .filter((file) => file.toString("latin1").toLowerCase().startsWith(envelopeTo));
    },
    mainLog: daemon.mainLog,
    async close() {
      for (const relay of Object.values(relays)) await relay.close();
      await daemon.stop();
    },
  };
}

/**
 * Runs a private Exim daemon on `config` (its spool and logs in `dir`) until every one of
 * `ports` accepts a connection. Exim drops to Debian-exim for each session, so `ownDirs`
 * (below `dir`) are handed to that user.
 */
export async function runExim(dir: string, config: string, ports: number[], ownDirs: string[]) {
  const exim = eximBinary();
  if (exim === undefined) throw new Error("exim4 is not installed");
  const configFile = path.join(dir, "exim.conf");
  writeFileSync(configFile, config, { mode: 0o644 });
  chmodSync(dir, 0o755);
  execFileSync("chown", [
    "-R",
    "Debian-exim:Debian-exim",
    ...ownDirs.map((own) => path.join(dir, own)),
  ]);
  const daemon = spawn(exim, ["-C", configFile, "-bdf"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  daemon.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  daemon.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  for (const port of ports) await waitForPort(port, daemon, () => output);
  return {
    mainLog: () => {
      try {
        return readFileSync(path.join(dir, "log", "mainlog"), "utf8");
      } catch {
        return "";
      }
    },
    stop: async () => {
      daemon.kill("SIGTERM");
      await new Promise((resolve) =>
        daemon.exitCode !== null ? resolve(null) : daemon.once("exit", resolve),
      );
    },
  };
}
