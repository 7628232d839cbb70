// Test helpers for this and other packages: a throwaway PKI and recording SMTP servers.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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

  const chunks: Buffer[] = [];
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
    authAttempts,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
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
