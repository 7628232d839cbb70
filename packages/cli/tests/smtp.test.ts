import { writeFileSync } from "node:fs";
import path from "node:path";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import {
  IMAP_PASSWORD,
  IMAP_USERNAME,
  startDovecot,
  type RunningDovecot,
} from "@imap-proxy/testing/dovecot";
import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { startSmtpServer, type RunningServer } from "@imap-proxy/testing/smtp-server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openCliWorld, runBuiltCli, type CliWorld } from "./support.ts";

let world: CliWorld;
let pki: TestPki;
let starttls: RunningServer;
let noStarttls: RunningServer;
let env: NodeJS.ProcessEnv;
let dovecot: RunningDovecot;

beforeAll(async () => {
  world = await openCliWorld();
  pki = makeTestPki();
  const caFile = path.join(pki.dir, "trusted-ca.pem");
  writeFileSync(caFile, pki.caPem);
  starttls = await startSmtpServer({ secure: false, ...pki.server });
  noStarttls = await startSmtpServer({
    secure: false,
    disabledCommands: ["STARTTLS"],
    ...pki.server,
  });
  // --verify checks IMAP too: a private Dovecot plays the mailbox's IMAP server.
  dovecot = await startDovecot(pki);
  env = {
    ...world.env,
    SMTP_CA_FILE: caFile,
    IMAP_CA_FILE: caFile,
    IMAP_PASSWORD,
    SMTP_PASSWORD: PASSWORD,
  };
}, 60_000);
afterAll(async () => {
  await starttls?.close();
  await noStarttls?.close();
  await dovecot?.close();
  await world?.close();
});

const createArgs = (email: string, port: number, extra: string[] = []) => [
  "mailboxes:create",
  "--email",
  email,
  "--imap-host",
  "localhost",
  "--imap-port",
  String(dovecot.implicitPort),
  "--imap-username",
  IMAP_USERNAME,
  "--smtp-host",
  "localhost",
  "--smtp-port",
  String(port),
  "--smtp-username",
  USERNAME,
  "--smtp-tls-mode",
  "starttls_required",
  "--allow-port-mismatch",
  ...extra,
];

describe("SMTP verification from the CLI", () => {
  test("create --verify saves only after a successful check", async () => {
    const result = await runBuiltCli(
      createArgs("verified@example.com", starttls.port, ["--verify", "--json"]),
      env,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/SMTP verified: .* over TLSv1\.[23]/);
    expect(result.stderr).toMatch(/IMAP verified: Dovecot accepted the login over TLSv1\.[23]/);
    expect(JSON.parse(result.stdout)).toMatchObject({ email: "verified@example.com" });
    expect(starttls.authAttempts.at(-1)).toEqual({ username: USERNAME, accepted: true });
  });

  test("a failed check saves nothing and says why; --save-anyway keeps it", async () => {
    const before = await world.mailboxCount();
    const refused = await runBuiltCli(
      createArgs("unverified@example.com", noStarttls.port, ["--verify"]),
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error: SMTP tls_unavailable: .*Nothing was saved/);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(await world.mailboxCount()).toBe(before);
    expect(noStarttls.authAttempts).toEqual([]);
    expect(noStarttls.clientBytes().toString("latin1")).not.toMatch(/AUTH|Corr3ct/);

    const kept = await runBuiltCli(
      createArgs("unverified@example.com", noStarttls.port, ["--verify", "--save-anyway"]),
      env,
    );
    expect(kept.code).toBe(0);
    expect(await world.mailboxCount()).toBe(before + 1);
  });

  test("mailboxes:verify-smtp reports TLS details as JSON and exits 0 only on success", async () => {
    const ok = await runBuiltCli(["mailboxes:verify-smtp", "verified@example.com", "--json"], env);
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      ok: true,
      certificateSubject: "localhost",
      serverName: "mx.test.example",
    });
    expect(report.tlsProtocol).toMatch(/^TLSv1\.[23]$/);

    const failed = await runBuiltCli(
      ["mailboxes:verify-smtp", "unverified@example.com", "--json"],
      env,
    );
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ ok: false, code: "tls_unavailable" });
    expect(failed.stderr.trim().split("\n")).toHaveLength(1);

    const plain = await runBuiltCli(["mailboxes:verify-smtp", "verified@example.com"], env);
    expect(plain.stdout).toMatch(/^SMTP verified: mx\.test\.example accepted the login/);
  });

  test("a wrong stored password → auth_failed, and the password appears nowhere", async () => {
    const wrong = "Wr0ng-Stored-Passw0rd";
    const created = await runBuiltCli(createArgs("wrongpw@example.com", starttls.port), {
      ...env,
      SMTP_PASSWORD: wrong,
    });
    expect(created.code).toBe(0);
    const result = await runBuiltCli(
      ["mailboxes:verify-smtp", "wrongpw@example.com", "--json"],
      env,
    );
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, code: "auth_failed" });
    expect(result.stdout + result.stderr).not.toContain(wrong);
  });

  test("without SMTP_CA_FILE the private CA is not trusted", async () => {
    const { SMTP_CA_FILE: _ca, ...untrusting } = env;
    const result = await runBuiltCli(
      ["mailboxes:verify-smtp", "verified@example.com", "--smtp-timeout", "3s"],
      untrusting,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: SMTP tls_failed/);
  });
});

describe("IMAP verification from the CLI", () => {
  test("mailboxes:verify-imap reports TLS and folders as JSON; a wrong password is auth_failed", async () => {
    const ok = await runBuiltCli(["mailboxes:verify-imap", "verified@example.com", "--json"], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, sentFolder: "Sent", idle: true });

    const wrong = await runBuiltCli(
      createArgs("wrong-imap@example.com", starttls.port, ["--verify"]),
      { ...env, IMAP_PASSWORD: "not-the-imap-password" },
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/error: IMAP auth_failed: .*Nothing was saved/);
    expect(wrong.stderr).not.toContain("not-the-imap-password");
  });
});
