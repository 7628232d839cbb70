import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  SmtpError,
  type SmtpFailureCode,
  type SmtpSettings,
  extraCaFromEnv,
  smtpConnectionOptions,
  verifySmtp,
} from "../src/index.ts";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import {
  eximBinary,
  startExim,
  type PeerVariant,
  type RunningExim,
} from "@imap-proxy/testing/exim";
import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { startSmtpServer } from "@imap-proxy/testing/smtp-server";
import { startSilentServer } from "@imap-proxy/testing/tcp";

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

const settings = (
  port: number,
  tlsMode: SmtpSettings["tlsMode"],
  password = PASSWORD,
): SmtpSettings => ({
  host: "localhost",
  port,
  tlsMode,
  username: USERNAME,
  password,
});

async function failure(promise: Promise<unknown>): Promise<SmtpError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SmtpError);
    return error as SmtpError;
  }
  throw new Error("verification unexpectedly succeeded");
}

function expectNoCredentialsOnTheWire(bytes: Buffer) {
  const text = bytes.toString("latin1");
  expect(text).not.toMatch(/AUTH/i);
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(Buffer.from(PASSWORD).toString("base64"));
  expect(text).not.toContain(Buffer.from(`\u0000${USERNAME}\u0000${PASSWORD}`).toString("base64"));
}

describe("the policy", () => {
  test("SMTP_CA_FILE adds to Node's default trust, NODE_EXTRA_CA_CERTS included", () => {
    const operator = makeTestPki();
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = `${operator.dir}/ca.pem`;
    try {
      const ca = smtpConnectionOptions(settings(465, "implicit"), { extraCa: pki.caPem }).tls
        ?.ca as string[];
      expect(ca).toEqual(expect.arrayContaining([...rootCertificates, operator.caPem.trim()]));
      expect(ca).toContain(pki.caPem);
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
    expect(() => extraCaFromEnv({ SMTP_CA_FILE: "/nonexistent/ca.pem" })).toThrow(
      "SMTP_CA_FILE /nonexistent/ca.pem cannot be read (ENOENT).",
    );
  });

  test("maps the two modes and never turns verification off", () => {
    const implicit = smtpConnectionOptions(settings(465, "implicit"));
    expect(implicit).toMatchObject({
      secure: true,
      requireTLS: false,
      ignoreTLS: false,
      opportunisticTLS: false,
    });
    const starttls = smtpConnectionOptions(settings(587, "starttls_required"));
    expect(starttls).toMatchObject({
      secure: false,
      requireTLS: true,
      ignoreTLS: false,
      opportunisticTLS: false,
    });
    for (const options of [implicit, starttls]) {
      expect(options.tls).toMatchObject({
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        servername: "localhost",
      });
    }
    // Ports decide nothing: the same port gives either mode.
    expect(smtpConnectionOptions(settings(465, "starttls_required")).secure).toBe(false);
    expect(smtpConnectionOptions(settings(587, "implicit")).secure).toBe(true);
    // An IP literal gets no SNI (RFC 6066) but is still verified.
    const byIp = smtpConnectionOptions({ ...settings(465, "implicit"), host: "127.0.0.1" });
    expect(byIp.tls).not.toHaveProperty("servername");
    expect(byIp.tls?.rejectUnauthorized).toBe(true);
  });
});

describe("verifySmtp against smtp-server on loopback", () => {
  const trusted = () => ({ extraCa: pki.caPem, timeoutMs: 3000 });

  test("STARTTLS offered: upgrades, authenticates, reports TLS details", async () => {
    const server = await startSmtpServer({ secure: false, ...pki.server });
    try {
      const result = await verifySmtp(settings(server.port, "starttls_required"), trusted());
      expect(result.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
      expect(result.tlsCipher).toBeTruthy();
      expect(result.certificateSubject).toBe("localhost");
      expect(Date.parse(result.certificateExpiresAt!)).toBeGreaterThan(Date.now());
      expect(result.serverName).toBe("mx.test.example");
      expect(server.authAttempts).toEqual([{ username: USERNAME, accepted: true }]);
      // The password only ever travelled inside TLS.
      const wire = server.clientBytes().toString("latin1");
      const plaintext = wire.slice(0, wire.indexOf("STARTTLS") + "STARTTLS\r\n".length);
      expect(plaintext).toMatch(/^EHLO .*\r\nSTARTTLS\r\n$/s);
      expectNoCredentialsOnTheWire(server.clientBytes());
    } finally {
      await server.close();
    }
  });

  test("implicit TLS: authenticated from the first byte", async () => {
    const server = await startSmtpServer({ secure: true, ...pki.server });
    try {
      const result = await verifySmtp(settings(server.port, "implicit"), trusted());
      expect(result.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
      expect(server.authAttempts).toEqual([{ username: USERNAME, accepted: true }]);
      expect(server.clientBytes()[0]).toBe(0x16); // a TLS handshake record, not "EHLO"
      expectNoCredentialsOnTheWire(server.clientBytes());
    } finally {
      await server.close();
    }
  });

  const failures: [string, SmtpFailureCode, SmtpSettings["tlsMode"], () => SMTPServerCase][] = [
    [
      "STARTTLS not offered",
      "tls_unavailable",
      "starttls_required",
      () => ({ secure: false, disabledCommands: ["STARTTLS"], ...pki.server }),
    ],
    [
      "a certificate for another hostname (STARTTLS)",
      "tls_failed",
      "starttls_required",
      () => ({ secure: false, ...pki.otherHost }),
    ],
    [
      "a certificate for another hostname (implicit)",
      "tls_failed",
      "implicit",
      () => ({ secure: true, ...pki.otherHost }),
    ],
    [
      "a self-signed certificate not in the trusted set",
      "tls_failed",
      "starttls_required",
      () => ({ secure: false, ...pki.selfSigned }),
    ],
    [
      "implicit TLS against a plaintext port",
      "tls_failed",
      "implicit",
      () => ({ secure: false, ...pki.server }),
    ],
    [
      "no AUTH offered",
      "auth_unavailable",
      "starttls_required",
      () => ({ secure: false, disabledCommands: ["AUTH"], ...pki.server }),
    ],
  ];

  test.each(failures)(
    "%s → %s, and no credentials reach the server",
    async (_name, code, mode, serverOptions) => {
      const server = await startSmtpServer(serverOptions());
      try {
        const error = await failure(verifySmtp(settings(server.port, mode), trusted()));
        expect(error.code).toBe(code);
        expect(error.message).not.toContain(PASSWORD);
        expect(server.authAttempts).toEqual([]);
        expectNoCredentialsOnTheWire(server.clientBytes());
      } finally {
        await server.close();
      }
    },
  );

  test("a wrong password → auth_failed (sent only inside TLS), message without the password", async () => {
    const wrong = "Wr0ng-Passw0rd-Sentinel";
    const server = await startSmtpServer({ secure: false, ...pki.server });
    try {
      const error = await failure(
        verifySmtp(settings(server.port, "starttls_required", wrong), trusted()),
      );
      expect(error.code).toBe("auth_failed");
      expect(error.message).not.toContain(wrong);
      expect(server.authAttempts).toEqual([{ username: USERNAME, accepted: false }]);
      expect(server.clientBytes().toString("latin1")).not.toContain(wrong);
    } finally {
      await server.close();
    }
  });

  test("the system roots alone do not trust a private CA", async () => {
    const server = await startSmtpServer({ secure: true, ...pki.server });
    try {
      const error = await failure(
        verifySmtp(settings(server.port, "implicit"), { timeoutMs: 3000 }),
      );
      expect(error.code).toBe("tls_failed");
      expect(server.authAttempts).toEqual([]);
    } finally {
      await server.close();
    }
  });

  test("starttls_required on a silent port times out within the bound instead of hanging", async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const error = await failure(
        verifySmtp(settings(silent.port, "starttls_required"), {
          extraCa: pki.caPem,
          timeoutMs: 500,
        }),
      );
      expect(error.code).toBe("timeout");
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await silent.close();
    }
  });

  test("a closed port → connection_failed", async () => {
    const silent = await startSilentServer();
    const port = silent.port;
    await silent.close();
    const error = await failure(verifySmtp(settings(port, "implicit"), trusted()));
    expect(error.code).toBe("connection_failed");
  });
});

type SMTPServerCase = Parameters<typeof startSmtpServer>[0];

// The same matrix against a real MTA: Debian's Exim, run privately (installed by .ci/run; it
// needs root to hand its spool to the Debian-exim user).
const canRunExim = eximBinary() !== undefined && process.getuid?.() === 0;

describe.runIf(canRunExim)("verifySmtp against a private Exim on loopback", () => {
  let exim: RunningExim;
  beforeAll(async () => {
    exim = await startExim(pki);
  });
  afterAll(async () => {
    await exim?.close();
  });
  const at = (variant: PeerVariant, mode: SmtpSettings["tlsMode"], password = PASSWORD) => {
    exim.relays[variant].clear();
    return settings(exim.relays[variant].port, mode, password);
  };
  const trusted = { extraCa: "", timeoutMs: 3000 };
  beforeAll(() => {
    trusted.extraCa = pki.caPem;
  });

  test("STARTTLS: upgrades, authenticates; the password only travels inside TLS", async () => {
    const result = await verifySmtp(at("starttls", "starttls_required"), trusted);
    expect(result.serverName).toBe("exim.test.example");
    expect(result.tlsProtocol).toMatch(/^TLSv1\.[23]$/);
    const wire = exim.relays.starttls.clientBytes().toString("latin1");
    expect(wire.slice(0, wire.indexOf("STARTTLS") + 10)).toMatch(/^EHLO .*\r\nSTARTTLS\r\n$/s);
    expectNoCredentialsOnTheWire(exim.relays.starttls.clientBytes());
  });

  test("implicit TLS: authenticates", async () => {
    const result = await verifySmtp(at("implicit", "implicit"), trusted);
    expect(result.certificateSubject).toBe("localhost");
    expect(exim.relays.implicit.clientBytes()[0]).toBe(0x16);
  });

  const failures: [string, SmtpFailureCode, PeerVariant, SmtpSettings["tlsMode"]][] = [
    ["STARTTLS not offered", "tls_unavailable", "no_starttls", "starttls_required"],
    ["a certificate for another hostname", "tls_failed", "other_host", "starttls_required"],
    [
      "a self-signed certificate not in the trusted set",
      "tls_failed",
      "self_signed",
      "starttls_required",
    ],
    ["implicit TLS against a plaintext port", "tls_failed", "starttls", "implicit"],
    ["no AUTH offered", "auth_unavailable", "no_auth", "starttls_required"],
  ];
  test.each(failures)(
    "%s → %s, and no credentials reach Exim",
    async (_name, code, variant, mode) => {
      const error = await failure(verifySmtp(at(variant, mode), trusted));
      expect(error.code).toBe(code);
      expectNoCredentialsOnTheWire(exim.relays[variant].clientBytes());
    },
  );

  test("a wrong password → auth_failed; Exim logs the rejected login", async () => {
    const error = await failure(
      verifySmtp(at("starttls", "starttls_required", "Wr0ng-Exim-Passw0rd"), trusted),
    );
    expect(error.code).toBe("auth_failed");
    expect(error.message).not.toContain("Wr0ng-Exim-Passw0rd");
    await new Promise((r) => setTimeout(r, 200));
    expect(exim.mainLog()).toMatch(/authenticator failed/);
  });

  test("starttls_required on Exim's implicit-TLS port times out within the bound", async () => {
    const error = await failure(
      verifySmtp(at("implicit", "starttls_required"), { ...trusted, timeoutMs: 800 }),
    );
    expect(error.code).toBe("timeout");
    expectNoCredentialsOnTheWire(exim.relays.implicit.clientBytes());
  });
});
