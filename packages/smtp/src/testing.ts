// Test helpers for this and other packages: a throwaway PKI and recording SMTP servers.
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

/** A throwaway CA and certificates, made with openssl at test time. */
export interface TestPki {
  dir: string;
  caPem: string;
  /** Signed by the CA for localhost / 127.0.0.1. */
  server: { key: string; cert: string };
  /** Signed by the CA for another name only. */
  otherHost: { key: string; cert: string };
  /** Self-signed for localhost, not in any trusted set. */
  selfSigned: { key: string; cert: string };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), "imap-proxy-pki-"));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=imap-proxy test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  const issue = (name: string, cn: string, san: string) => {
    run("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    writeFileSync(
      path.join(dir, `${name}.ext`),
      `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`,
    );
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
    return {
      key: readFileSync(path.join(dir, `${name}.key`), "utf8"),
      cert: readFileSync(path.join(dir, `${name}.pem`), "utf8"),
    };
  };
  const server = issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
  const otherHost = issue("other", "mail.other.example", "DNS:mail.other.example");
  run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "self.key",
    "-out",
    "self.pem",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  );
  return {
    dir,
    caPem: readFileSync(path.join(dir, "ca.pem"), "utf8"),
    server,
    otherHost,
    selfSigned: {
      key: readFileSync(path.join(dir, "self.key"), "utf8"),
      cert: readFileSync(path.join(dir, "self.pem"), "utf8"),
    },
  };
}

export interface RunningServer {
  /** The port clients connect to: a recording relay in front of the SMTP server. */
  port: number;
  /** Every byte the client sent, in order (plaintext, then TLS records once encrypted). */
  clientBytes(): Buffer;
  /** AUTH attempts the server itself saw (username, whether the password matched). */
  authAttempts: { username: string; accepted: boolean }[];
  /** The smtp-server itself, for fault injection (its live connections). */
  server: SMTPServer;
  close(): Promise<void>;
}

export const USERNAME = "mailer@example.com";
export const PASSWORD = "Corr3ct-H0rse-Battery-Staple";

/** An smtp-server on 127.0.0.1 behind a relay that records what the client sends. */
export async function startSmtpServer(options: SMTPServerOptions): Promise<RunningServer> {
  const authAttempts: RunningServer["authAttempts"] = [];
  const server = new SMTPServer({
    banner: "test-mta ready",
    name: "mx.test.example",
    authMethods: ["PLAIN", "LOGIN"],
    logger: false,
    onAuth(auth, _session, callback) {
      const accepted = auth.username === USERNAME && auth.password === PASSWORD;
      authAttempts.push({ username: auth.username ?? "", accepted });
      if (accepted) callback(null, { user: auth.username });
      else
        callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    ...options,
  });
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const target = (server.server.address() as net.AddressInfo).port;

  const relay = await startRecordingRelay(target);
  return {
    port: relay.port,
    clientBytes: () => relay.clientBytes(),
    authAttempts,
    server,
    async close() {
      await relay.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RecordingRelay {
  port: number;
  clientBytes(): Buffer;
  clear(): void;
  close(): Promise<void>;
}

/** A loopback TCP relay to `target` that keeps every byte the client sends (server-side proof). */
export async function startRecordingRelay(target: number): Promise<RecordingRelay> {
  let chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => chunks.push(chunk));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    clientBytes: () => Buffer.concat(chunks),
    clear: () => {
      chunks = [];
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

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

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A private Exim daemon on loopback ports with its own configuration, spool and logs in a temp
 * directory (no system mail configuration is read or changed). One port per matrix variant:
 * TLS certificate, STARTTLS and AUTH advertisement are chosen by $received_port.
 */
export async function startExim(pki: TestPki): Promise<RunningExim> {
  const exim = eximBinary();
  if (exim === undefined) throw new Error("exim4 is not installed");
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
  for (const sub of ["spool", "log"]) mkdirSync(path.join(dir, sub));
  const byPort = (other: string, self: string, fallback: string) =>
    `\${if eq{$received_port}{${ports.other_host}}{${other}}{\${if eq{$received_port}{${ports.self_signed}}{${self}}{${fallback}}}}}`;
  const config = `
primary_hostname = exim.test.example
exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
pid_file_path = ${dir}/exim.pid
local_interfaces = <; 127.0.0.1
daemon_smtp_ports = ${PEER_VARIANTS.map((v) => ports[v]).join(" : ")}
tls_on_connect_ports = ${ports.implicit}
tls_certificate = ${byPort(`${dir}/other.pem`, `${dir}/self.pem`, `${dir}/server.pem`)}
tls_privatekey = ${byPort(`${dir}/other.key`, `${dir}/self.key`, `${dir}/server.key`)}
tls_advertise_hosts = \${if eq{$received_port}{${ports.no_starttls}}{}{*}}
auth_advertise_hosts = \${if or{{eq{$received_port}{${ports.no_auth}}}{eq{$tls_in_cipher}{}}}{}{*}}
host_lookup =
rfc1413_hosts =
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error

begin authenticators

PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{$auth2}{${USERNAME}}}{eq{$auth3}{${PASSWORD}}}}}
  server_set_id = $auth2

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = \${if and {{eq{$auth1}{${USERNAME}}}{eq{$auth2}{${PASSWORD}}}}}
  server_set_id = $auth1
`;
  const configFile = path.join(dir, "exim.conf");
  writeFileSync(configFile, config, { mode: 0o644 });
  // Exim drops to Debian-exim for each session: it must reach the spool, logs and keys.
  chmodSync(dir, 0o755);
  execFileSync("chown", [
    "-R",
    "Debian-exim:Debian-exim",
    path.join(dir, "spool"),
    path.join(dir, "log"),
  ]);
  const daemon = spawn(exim, ["-C", configFile, "-bdf"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  daemon.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  daemon.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  // Ready when every port accepts a connection.
  const deadline = Date.now() + 10_000;
  for (const variant of PEER_VARIANTS) {
    for (;;) {
      const open = await new Promise<boolean>((resolve) => {
        const probe = net.connect(ports[variant], "127.0.0.1");
        probe.once("connect", () => {
          probe.destroy();
          resolve(true);
        });
        probe.once("error", () => resolve(false));
      });
      if (open) break;
      if (Date.now() > deadline || daemon.exitCode !== null) {
        daemon.kill("SIGKILL");
        throw new Error(`exim did not start: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const relays = {} as Record<PeerVariant, RecordingRelay>;
  for (const variant of PEER_VARIANTS) relays[variant] = await startRecordingRelay(ports[variant]);
  return {
    relays,
    mainLog: () => {
      try {
        return readFileSync(path.join(dir, "log", "mainlog"), "utf8");
      } catch {
        return "";
      }
    },
    async close() {
      for (const relay of Object.values(relays)) await relay.close();
      daemon.kill("SIGTERM");
      await new Promise((resolve) =>
        daemon.exitCode !== null ? resolve(null) : daemon.once("exit", resolve),
      );
    },
  };
}

/** A TCP server that accepts and never speaks (a wrong port that hangs). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
