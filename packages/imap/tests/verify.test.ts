import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { freePort, startRecordingRelay, startSilentServer } from "@imap-proxy/testing/tcp";
import { ImapFlow } from "imapflow";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ImapError,
  type ImapFailureCode,
  type ImapSettings,
  imapConnectionOptions,
  imapExtraCaFromEnv,
  shouldCopyToSent,
  verifyImap,
} from "../src/index.ts";
import {
  IMAP_PASSWORD,
  IMAP_USERNAME,
  dovecotBinary,
  startDovecot,
  startStrippingRelay,
  type RunningDovecot,
} from "@imap-proxy/testing/dovecot";

/** A TLS listener with the given certificate that greets like an IMAP server. */
async function startTlsServer(identity: { key: string; cert: string }) {
  const server = tls.createServer(identity, (socket) => {
    socket.on("error", () => {});
    socket.write("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let pki: TestPki;
let dovecot: RunningDovecot;
const hasDovecot = dovecotBinary() !== undefined;

beforeAll(async () => {
  pki = makeTestPki();
  if (hasDovecot) dovecot = await startDovecot(pki);
}, 30_000);
afterAll(async () => {
  await dovecot?.close();
});

const settings = (
  port: number,
  tlsMode: ImapSettings["tlsMode"],
  overrides: Partial<ImapSettings> = {},
): ImapSettings => ({
  host: "localhost",
  port,
  tlsMode,
  username: IMAP_USERNAME,
  password: IMAP_PASSWORD,
  ...overrides,
});

async function failure(promise: Promise<unknown>): Promise<ImapError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ImapError);
    return error as ImapError;
  }
  throw new Error("verification unexpectedly succeeded");
}

function expectNoCredentialsOnTheWire(bytes: Buffer) {
  const text = bytes.toString("latin1");
  expect(text).not.toMatch(/\bLOGIN\b|AUTHENTICATE/i);
  expect(text).not.toContain(IMAP_PASSWORD);
  expect(text).not.toContain(Buffer.from(IMAP_PASSWORD).toString("base64"));
  expect(text).not.toContain(
    Buffer.from(`\u0000${IMAP_USERNAME}\u0000${IMAP_PASSWORD}`).toString("base64"),
  );
}

describe("the policy", () => {
  test("IMAP_CA_FILE adds to Node's default trust, NODE_EXTRA_CA_CERTS included", () => {
    const operator = makeTestPki();
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = `${operator.dir}/ca.pem`;
    try {
      const ca = imapConnectionOptions(settings(993, "implicit"), { extraCa: pki.caPem }).tls
        ?.ca as string[];
      expect(ca).toEqual(expect.arrayContaining([...tls.rootCertificates, operator.caPem.trim()]));
      expect(ca).toContain(pki.caPem);
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
    expect(() => imapExtraCaFromEnv({ IMAP_CA_FILE: "/nonexistent/ca.pem" })).toThrow(
      "IMAP_CA_FILE /nonexistent/ca.pem cannot be read (ENOENT).",
    );
  });

  test("maps the two modes, always verifies, never leaves STARTTLS to chance", () => {
    const implicit = imapConnectionOptions(settings(993, "implicit"));
    expect(implicit).toMatchObject({ secure: true, doSTARTTLS: false, servername: "localhost" });
    const starttls = imapConnectionOptions(settings(143, "starttls_required"));
    expect(starttls).toMatchObject({ secure: false, doSTARTTLS: true, servername: "localhost" });
    for (const options of [implicit, starttls]) {
      expect(options.tls).toMatchObject({ rejectUnauthorized: true, minVersion: "TLSv1.2" });
    }
    // Ports decide nothing: 993 with starttls_required stays a STARTTLS connection.
    expect(imapConnectionOptions(settings(993, "starttls_required"))).toMatchObject({
      secure: false,
      doSTARTTLS: true,
    });
    // No SNI for IP literals (RFC 6066); the certificate is still checked against the IP.
    expect(
      imapConnectionOptions(settings(993, "implicit", { host: "127.0.0.1" })),
    ).not.toHaveProperty("servername");
  });

  test("sent_copy auto skips providers that copy submissions themselves", () => {
    const hosts = (imapHost: string, smtpHost = "smtp.example.net") => ({ imapHost, smtpHost });
    expect(shouldCopyToSent("auto", hosts("imap.example.net"))).toBe(true);
    expect(shouldCopyToSent("auto", hosts("imap.gmail.com"))).toBe(false);
    expect(shouldCopyToSent("auto", hosts("imap.example.net", "smtp.gmail.com."))).toBe(false);
    expect(shouldCopyToSent("auto", hosts("outlook.office365.com"))).toBe(false);
    expect(shouldCopyToSent("auto", hosts("IMAP.GoogleMail.com"))).toBe(false);
    expect(shouldCopyToSent("auto", hosts("notgmail.com"))).toBe(true);
    expect(shouldCopyToSent("on", hosts("imap.gmail.com"))).toBe(true);
    expect(shouldCopyToSent("off", hosts("imap.example.net"))).toBe(false);
  });
});

describe.skipIf(!hasDovecot)("verifyImap against a private Dovecot", () => {
  const ca = () => ({ extraCa: pki.caPem, timeoutMs: 3_000 });

  test.each([
    ["implicit", () => dovecot.implicitPort],
    ["starttls_required", () => dovecot.starttlsPort],
  ] as const)("%s: logs in over TLS, finds Sent and Junk, changes nothing", async (mode, port) => {
    const before = dovecot.doveadm("mailbox", "status", "-u", IMAP_USERNAME, "all", "*");
    const report = await verifyImap(settings(port(), mode), ca());
    expect(report).toMatchObject({
      sentFolder: "Sent",
      junkFolder: "Junk",
      idle: true,
      serverName: "Dovecot",
    });
    expect(report.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    expect(dovecot.doveadm("mailbox", "status", "-u", IMAP_USERNAME, "all", "*")).toBe(before);
  });

  test("a relay that strips STARTTLS: fails closed, no credentials cross", async () => {
    const relay = await startStrippingRelay(dovecot.starttlsPort);
    try {
      // Control: imapflow's default (doSTARTTLS unset) falls back and logs in in plaintext
      // through this relay, so the relay is a real attack and the recording can see it.
      const naive = new ImapFlow({
        host: "localhost",
        port: relay.port,
        secure: false,
        auth: { user: IMAP_USERNAME, pass: IMAP_PASSWORD },
        logger: false,
        tls: { ca: [pki.caPem] },
      });
      naive.on("error", () => {});
      await naive.connect();
      await naive.logout();
      expect(relay.clientBytes().toString("latin1")).toContain(
        Buffer.from(`\u0000${IMAP_USERNAME}\u0000${IMAP_PASSWORD}`).toString("base64"),
      );
      relay.clear();

      const error = await failure(verifyImap(settings(relay.port, "starttls_required"), ca()));
      expect(error.code).toBe<ImapFailureCode>("tls_unavailable");
      expect(error.detail).toMatch(/STARTTLS/);
      expectNoCredentialsOnTheWire(relay.clientBytes());
      expect(error.message).not.toContain(IMAP_PASSWORD);
    } finally {
      await relay.close();
    }
  });

  test("wrong password: auth_failed, the password is not in the error", async () => {
    const wrong = "not-the-password-at-all";
    const error = await failure(
      verifyImap(settings(dovecot.implicitPort, "implicit", { password: wrong }), ca()),
    );
    expect(error.code).toBe<ImapFailureCode>("auth_failed");
    expect(error.message).not.toContain(wrong);
  });

  test("unknown CA: tls_failed before any byte of the login", async () => {
    const relay = await startRecordingRelay(dovecot.starttlsPort);
    try {
      const error = await failure(
        verifyImap(settings(relay.port, "starttls_required"), { timeoutMs: 3_000 }),
      );
      expect(error.code).toBe<ImapFailureCode>("tls_failed");
      expectNoCredentialsOnTheWire(relay.clientBytes());
    } finally {
      await relay.close();
    }
  });

  test("a certificate for another host name: tls_failed", async () => {
    const other = await startTlsServer(pki.otherHost);
    try {
      const error = await failure(verifyImap(settings(other.port, "implicit"), ca()));
      expect(error.code).toBe<ImapFailureCode>("tls_failed");
      expect(error.detail).toMatch(/ALTNAME|does not match|not in the cert/i);
    } finally {
      await other.close();
    }
  });

  test("implicit on the STARTTLS port: tls_failed", async () => {
    const error = await failure(verifyImap(settings(dovecot.starttlsPort, "implicit"), ca()));
    expect(error.code).toBe<ImapFailureCode>("tls_failed");
  });

  test("starttls_required on the implicit port: timeout, nothing sent in plaintext", async () => {
    const relay = await startRecordingRelay(dovecot.implicitPort);
    try {
      const error = await failure(
        verifyImap(settings(relay.port, "starttls_required"), { ...ca(), timeoutMs: 1_000 }),
      );
      expect(error.code).toBe<ImapFailureCode>("timeout");
      expectNoCredentialsOnTheWire(relay.clientBytes());
    } finally {
      await relay.close();
    }
  });
});

describe("verifyImap without a server", () => {
  test("nothing listening: connection_failed", async () => {
    const port = await freePort();
    const error = await failure(verifyImap(settings(port, "implicit"), { timeoutMs: 2_000 }));
    expect(error.code).toBe<ImapFailureCode>("connection_failed");
  });

  test("a server that never speaks: timeout", async () => {
    const silent = await startSilentServer();
    try {
      const error = await failure(
        verifyImap(settings(silent.port, "starttls_required"), { timeoutMs: 500 }),
      );
      expect(error.code).toBe<ImapFailureCode>("timeout");
    } finally {
      await silent.close();
    }
  });
});
