import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { verifyToken, requirePermission } from "@imap-proxy/auth";
import { FernetKey, Keyring } from "@imap-proxy/crypto";
import { findMailboxRow, openDatabase, rowsOf, sql } from "@imap-proxy/db";
import { claim, markSent } from "@imap-proxy/db/queue";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openCliWorld, runBuiltCli, type CliWorld } from "./support.ts";

let world: CliWorld;
const scratch = mkdtempSync(path.join(tmpdir(), "imap-proxy-e2e-"));
beforeAll(async () => {
  world = await openCliWorld();
});
afterAll(async () => {
  await world?.close();
});

const SENTINEL = "S3ntinel-Pa55word-\u00e9\u{1F511}";

function createArgs(email: string, extra: string[] = []): string[] {
  return [
    "mailboxes:create",
    "--email",
    email,
    "--imap-host",
    "imap.example.com",
    "--imap-username",
    "user",
    "--smtp-host",
    "smtp.example.com",
    "--smtp-username",
    "user",
    ...extra,
  ];
}
const passwords = { IMAP_PASSWORD: "imap-pw", SMTP_PASSWORD: "smtp-pw" };

function expectOneLineError(result: { stderr: string; stdout: string }, pattern: RegExp) {
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stdout).toBe("");
}

describe("mailboxes:create with flags", () => {
  test("succeeds, prints JSON without secrets, and show/list read it back", async () => {
    const created = await runBuiltCli(
      createArgs("Flags@Example.com", ["--smtp-tls-mode", "implicit", "--json"]),
      { ...world.env, ...passwords },
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const mailbox = JSON.parse(created.stdout) as Record<string, unknown>;
    expect(Object.keys(mailbox).sort()).toEqual(
      [
        "createdAt",
        "email",
        "id",
        "imapHost",
        "imapPort",
        "imapUsername",
        "smtpHost",
        "smtpPort",
        "smtpTlsMode",
        "smtpUsername",
        "smtpMaxConnections",
        "imapTlsMode",
        "sentCopy",
        "sentFolder",
        "bounceReading",
        "trackOpens",
        "trackClicks",
        "pause",
        "updatedAt",
      ].sort(),
    );
    expect(mailbox).toMatchObject({
      email: "Flags@Example.com",
      smtpTlsMode: "implicit",
      smtpPort: 465,
      imapPort: 993,
    });

    const shown = await runBuiltCli(["mailboxes:show", "flags@example.COM", "--json"], world.env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(mailbox);
    const byId = await runBuiltCli(["mailboxes:show", String(mailbox.id), "--json"], world.env);
    expect(JSON.parse(byId.stdout)).toEqual(mailbox);

    const listed = await runBuiltCli(["mailboxes:list", "--json"], world.env);
    const list = JSON.parse(listed.stdout) as unknown[];
    expect(Array.isArray(list)).toBe(true);
    expect(list).toContainEqual(mailbox);
  });

  test("passwords from files and stdin: one trailing newline stripped, nothing else; 10 KB is fine", async () => {
    const long = "x".repeat(10_240) + " ";
    const file = path.join(scratch, "imap-password");
    writeFileSync(file, `${long}\r\n`);
    const result = await runBuiltCli(
      createArgs("files@example.com", ["--imap-password-file", file, "--smtp-password-file", "-"]),
      world.env,
      { stdin: "  smtp pw with spaces \n\n" },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const row = (await world.query(({ db }) => findMailboxRow(db, "files@example.com")))!;
    const keyring = Keyring.parse(world.fernetKey);
    expect(keyring.decryptSecret(row.imapPasswordEncrypted)).toBe(long);
    expect(keyring.decryptSecret(row.smtpPasswordEncrypted)).toBe("  smtp pw with spaces \n");
  });

  const badInputs: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    [
      "TLS mode STARTTLS",
      ["--smtp-tls-mode", "STARTTLS"],
      passwords,
      /"implicit" or "starttls_required"/,
    ],
    ["TLS mode tls", ["--smtp-tls-mode", "tls"], passwords, /"implicit" or "starttls_required"/],
    ["TLS mode ssl", ["--smtp-tls-mode", "ssl"], passwords, /"implicit" or "starttls_required"/],
    [
      "TLS mode with a trailing space",
      ["--smtp-tls-mode", "implicit "],
      passwords,
      /"implicit ": it must be exactly "implicit" or "starttls_required"/,
    ],
    ["TLS mode empty", ["--smtp-tls-mode", ""], passwords, /"implicit" or "starttls_required"/],
    ["TLS mode true", ["--smtp-tls-mode", "true"], passwords, /"implicit" or "starttls_required"/],
    [
      "TLS mode Implicit",
      ["--smtp-tls-mode", "Implicit"],
      passwords,
      /"implicit" or "starttls_required"/,
    ],
    ["a bad email", ["--email", "not-an-email"], passwords, /--email must be an email address/],
    [
      "a host with a scheme",
      ["--smtp-host", "smtp://smtp.example.com"],
      passwords,
      /--smtp-host must be a hostname/,
    ],
    [
      "a host with a port",
      ["--imap-host", "imap.example.com:993"],
      passwords,
      /--imap-host must be a hostname/,
    ],
    [
      "a host with a path",
      ["--smtp-host", "smtp.example.com/x"],
      passwords,
      /--smtp-host must be a hostname/,
    ],
    [
      "a host with a space",
      ["--smtp-host", "smtp example.com"],
      passwords,
      /--smtp-host must be a hostname/,
    ],
    [
      "port 0",
      ["--smtp-port", "0"],
      passwords,
      /--smtp-port must be a whole number from 1 to 65535/,
    ],
    ["port 65536", ["--imap-port", "65536"], passwords, /--imap-port must be a whole number/],
    [
      "a non-numeric port",
      ["--smtp-port", "5x87"],
      passwords,
      /--smtp-port must be a whole number/,
    ],
    ["an empty username", ["--smtp-username", ""], passwords, /--smtp-username must not be empty/],
    [
      "465 with starttls_required",
      ["--smtp-port", "465"],
      passwords,
      /465 expects implicit TLS.*--allow-port-mismatch/,
    ],
    [
      "587 with implicit",
      ["--smtp-port", "587", "--smtp-tls-mode", "implicit"],
      passwords,
      /587 expects .*STARTTLS.*--allow-port-mismatch/,
    ],
    [
      "25 with implicit",
      ["--smtp-port", "25", "--smtp-tls-mode", "implicit"],
      passwords,
      /25 expects/,
    ],
    [
      "a password on the command line",
      ["--smtp-password", SENTINEL],
      passwords,
      /never taken from the command line/,
    ],
    ["an unknown flag", ["--smtp-tls", "implicit"], passwords, /unknown option/],
  ];

  test.each(badInputs)(
    "refuses %s: exit 2, one line, nothing written",
    async (_name, extra, env, message) => {
      const before = await world.mailboxCount();
      // Later flags override earlier ones in commander, so `extra` replaces the valid value.
      const result = await runBuiltCli(
        [...createArgs(`bad-${Math.random().toString(36).slice(2)}@example.com`), ...extra],
        {
          ...world.env,
          ...env,
        },
      );
      expect(result.code).toBe(2);
      expectOneLineError(result, message);
      expect(result.stderr).not.toContain(SENTINEL);
      expect(await world.mailboxCount()).toBe(before);
    },
  );

  test("an empty password (env or file) is refused", async () => {
    const file = path.join(scratch, "empty");
    writeFileSync(file, "\n");
    const result = await runBuiltCli(
      createArgs("empty@example.com", ["--smtp-password-file", file]),
      { ...world.env, IMAP_PASSWORD: "a" },
    );
    expect(result.code).toBe(2);
    expectOneLineError(result, /the SMTP password must not be empty/);
  });

  test("--allow-port-mismatch lets an unusual pair through", async () => {
    const result = await runBuiltCli(
      createArgs("mismatch@example.com", ["--smtp-port", "465", "--allow-port-mismatch", "--json"]),
      { ...world.env, ...passwords },
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      smtpPort: 465,
      smtpTlsMode: "starttls_required",
    });
  });

  test("missing flags without a TTY: one error naming every missing input, exit 2, no hang", async () => {
    const before = await world.mailboxCount();
    const result = await runBuiltCli(["mailboxes:create", "--email", "x@example.com"], world.env, {
      timeoutMs: 20_000,
    });
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(2);
    expectOneLineError(
      result,
      /Missing required input: --imap-host, --imap-username, the IMAP password .*--smtp-host, --smtp-username, the SMTP password/,
    );
    expect(await world.mailboxCount()).toBe(before);
  });

  test("a duplicate email, in another case, is a clear one-line error", async () => {
    await runBuiltCli(createArgs("dupe@example.com"), { ...world.env, ...passwords });
    const result = await runBuiltCli(createArgs("DUPE@example.com"), {
      ...world.env,
      ...passwords,
    });
    expect(result.code).toBe(1);
    expectOneLineError(result, /A mailbox for DUPE@example.com already exists/);
  });

  test("with DATABASE_URL and no FERNET_KEY, refuses before touching anything", async () => {
    const { FERNET_KEY: _unused, ...env } = world.env;
    const result = await runBuiltCli(createArgs("nokey@example.com"), {
      ...env,
      ...passwords,
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
    });
    expect(result.code).toBe(1);
    expectOneLineError(result, /FERNET_KEY is not set/);
  });

  test("a malformed FERNET_KEY is a one-line error that does not print the key", async () => {
    const badKey = "this-is-not-a-fernet-key-but-looks-secret";
    const result = await runBuiltCli(createArgs("badkey@example.com"), {
      ...world.env,
      ...passwords,
      FERNET_KEY: badKey,
    });
    expect(result.code).toBe(1);
    expectOneLineError(result, /FERNET_KEY is not a valid Fernet key/);
    expect(result.stderr).not.toContain(badKey);
  });
});

describe("secrets never leak", () => {
  test("a sentinel password appears in no output, no error and no column but as ciphertext", async () => {
    const env = { ...world.env, IMAP_PASSWORD: SENTINEL, SMTP_PASSWORD: SENTINEL };
    const outputs: string[] = [];
    const run = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
      const result = await runBuiltCli(args, { ...env, ...extraEnv });
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    expect((await run(createArgs("leak@example.com", ["--json"]))).code).toBe(0);
    await run(createArgs("LEAK@example.com")); // duplicate → error path
    await run(createArgs("leak2@example.com", ["--smtp-port", "0"])); // validation error path
    await run(["mailboxes:list", "--json"]);
    await run(["mailboxes:list"]);
    await run(["mailboxes:show", "leak@example.com"]);
    await run(["mailboxes:show", "leak@example.com", "--json"]);
    await run(["mailboxes:update", "leak@example.com", "--smtp-password-file", "-", "--json"]);
    await run(["mailboxes:show", "leak@example.com", "--debug"]);
    for (const text of outputs) {
      expect(text).not.toContain(SENTINEL);
      expect(text).not.toContain("S3ntinel");
      expect(text).not.toMatch(/gAAAAA/);
    }
    const everyColumn = await world.query(async ({ db }) =>
      rowsOf<{ row: string }>(
        await db.execute(
          sql`SELECT row_to_json(m)::text AS row FROM mailboxes m WHERE lower(email) = 'leak@example.com'`,
        ),
      ),
    );
    expect(everyColumn).toHaveLength(1);
    expect(everyColumn[0]!.row).not.toContain("S3ntinel");
    const row = (await world.query(({ db }) => findMailboxRow(db, "leak@example.com")))!;
    expect(Keyring.parse(world.fernetKey).decryptSecret(row.imapPasswordEncrypted)).toBe(SENTINEL);
  });
});

describe("the other mailbox commands", () => {
  test("update changes fields and passwords; bad updates write nothing", async () => {
    const created = JSON.parse(
      (
        await runBuiltCli(createArgs("update@example.com", ["--json"]), {
          ...world.env,
          ...passwords,
        })
      ).stdout,
    ) as { id: string; updatedAt: string };
    const updated = await runBuiltCli(
      [
        "mailboxes:update",
        created.id,
        "--smtp-host",
        "relay.example.net",
        "--smtp-tls-mode",
        "implicit",
        "--smtp-port",
        "465",
        "--json",
      ],
      { ...world.env, SMTP_PASSWORD: "new-smtp-pw" },
    );
    expect(updated.stderr).toBe("");
    const after = JSON.parse(updated.stdout) as Record<string, string>;
    expect(after).toMatchObject({
      smtpHost: "relay.example.net",
      smtpTlsMode: "implicit",
      smtpPort: 465,
    });
    expect(after.updatedAt! > created.updatedAt).toBe(true);
    const row = (await world.query(({ db }) => findMailboxRow(db, created.id)))!;
    const keyring = Keyring.parse(world.fernetKey);
    expect(keyring.decryptSecret(row.smtpPasswordEncrypted)).toBe("new-smtp-pw");
    expect(keyring.decryptSecret(row.imapPasswordEncrypted)).toBe("imap-pw");

    const mismatch = await runBuiltCli(
      ["mailboxes:update", created.id, "--smtp-port", "587"],
      world.env,
    );
    expect(mismatch.code).toBe(2);
    expectOneLineError(mismatch, /587 expects/);
    const badMode = await runBuiltCli(
      ["mailboxes:update", created.id, "--smtp-tls-mode", "ssl"],
      world.env,
    );
    expect(badMode.code).toBe(2);
    const nothing = await runBuiltCli(["mailboxes:update", created.id], world.env);
    expect(nothing.code).toBe(2);
    expectOneLineError(nothing, /Nothing to update/);
    const unchanged = (await world.query(({ db }) => findMailboxRow(db, created.id)))!;
    expect([unchanged.smtpPort, unchanged.smtpTlsMode]).toEqual([465, "implicit"]);
  });

  test("delete needs --yes without a TTY, refuses while mail is queued, then removes finished records", async () => {
    const { id } = JSON.parse(
      (
        await runBuiltCli(createArgs("delete@example.com", ["--json"]), {
          ...world.env,
          ...passwords,
        })
      ).stdout,
    ) as { id: string };
    const unconfirmed = await runBuiltCli(["mailboxes:delete", id], world.env);
    expect(unconfirmed.code).toBe(2);
    expectOneLineError(unconfirmed, /--yes/);

    await world.query(({ db }) =>
      db.execute(
        sql`INSERT INTO outbound_messages (mailbox_id, recipient_email, subject) VALUES (${id}, 'a@example.net', 'queued one')`,
      ),
    );
    const blocked = await runBuiltCli(["mailboxes:delete", id, "--yes"], world.env);
    expect(blocked.code).toBe(1);
    expectOneLineError(blocked, /still has 1 queued or in-flight message/);

    // In flight (claimed) still blocks; once sent, the record goes with the mailbox.
    const [claimed] = await world.query(({ db }) => claim(db, { limit: 1, owner: "test-worker" }));
    const inFlight = await runBuiltCli(["mailboxes:delete", id, "--yes"], world.env);
    expectOneLineError(inFlight, /still has 1 queued or in-flight message/);
    await world.query(({ db }) => markSent(db, claimed!.lease));
    const deleted = await runBuiltCli(
      ["mailboxes:delete", "DELETE@example.com", "--yes", "--json"],
      world.env,
    );
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({
      deleted: { id },
      finishedMessagesDeleted: 1,
    });
    const missing = await runBuiltCli(["mailboxes:show", id], world.env);
    expect(missing.code).toBe(1);
    expectOneLineError(missing, /No mailbox matches/);
  });

  test("every command has --help naming its flags and the environment", async () => {
    for (const command of [
      "mailboxes:create",
      "mailboxes:list",
      "mailboxes:show",
      "mailboxes:update",
      "mailboxes:delete",
      "mailboxes:verify-smtp",
      "db:migrate",
      "keys:generate",
      "keys:rotate",
      "tokens:issue",
    ]) {
      const result = await runBuiltCli([command, "--help"], world.env);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toMatch(/DATABASE_URL/);
      expect(result.stdout, command).toMatch(/FERNET_KEY/);
      expect(result.stdout, command).toMatch(/JWT_SECRET/);
    }
    const create = await runBuiltCli(["mailboxes:create", "--help"], world.env);
    for (const flag of [
      "--email",
      "--imap-host",
      "--imap-port",
      "--imap-username",
      "--imap-password-file",
      "--smtp-host",
      "--smtp-port",
      "--smtp-username",
      "--smtp-password-file",
      "--smtp-tls-mode",
      "--allow-port-mismatch",
      "--no-input",
      "--json",
    ]) {
      expect(create.stdout).toContain(flag);
    }
    expect(create.stdout).not.toMatch(/--smtp-password </);
  });
});

describe("keys and tokens", () => {
  test("keys:generate prints one key and nothing else", async () => {
    const result = await runBuiltCli(["keys:generate"], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^[A-Za-z0-9_-]{43}=\n$/);
    expect(() => FernetKey.parse(result.stdout.trim())).not.toThrow();
  });

  test("keys:rotate moves every secret to the new key and is idempotent", async () => {
    const newKey = FernetKey.generate();
    const env = { ...world.env, FERNET_KEY: `${newKey},${world.fernetKey}` };
    const first = await runBuiltCli(["keys:rotate", "--json"], env);
    expect(first.stderr).toBe("");
    const report = JSON.parse(first.stdout) as { mailboxes: number; rewritten: number };
    expect(report.rewritten).toBe(report.mailboxes);
    expect(report.mailboxes).toBeGreaterThan(0);
    const second = JSON.parse(
      (await runBuiltCli(["keys:rotate", "--json"], env)).stdout,
    ) as typeof report;
    expect(second).toEqual({ mailboxes: report.mailboxes, rewritten: 0 });
    const refused = await runBuiltCli(["keys:rotate"], {
      ...world.env,
      FERNET_KEY: FernetKey.generate(),
    });
    expect(refused.code).toBe(1);
    expectOneLineError(refused, /Refusing to rotate: no configured key decrypts/);
    // Everything now decrypts with the new key alone.
    const rows = await world.query(({ db }) => db.query.mailboxes.findMany());
    const alone = Keyring.parse(newKey);
    for (const row of rows) {
      expect(() => alone.decryptSecret(row.imapPasswordEncrypted)).not.toThrow();
      expect(() => alone.decryptSecret(row.smtpPasswordEncrypted)).not.toThrow();
    }
    world.env.FERNET_KEY = newKey;
    world.fernetKey = newKey;
  });

  test("tokens:issue prints a token that verifies with @imap-proxy/auth", async () => {
    const { id } = JSON.parse(
      (
        await runBuiltCli(createArgs("tokens@example.com", ["--json"]), {
          ...world.env,
          ...passwords,
        })
      ).stdout,
    ) as { id: string };
    const plain = await runBuiltCli(
      [
        "tokens:issue",
        "--mailbox",
        "tokens@example.com",
        "--permission",
        "messages:send",
        "--expires-in",
        "15m",
      ],
      world.env,
    );
    expect(plain.stderr).toBe("");
    expect(plain.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const { hmacKeyFromSecret } = await import("@imap-proxy/auth");
    const verifier = {
      algorithm: "HS256" as const,
      key: await hmacKeyFromSecret(world.env.JWT_SECRET!),
      issuer: "imap-proxy",
      audience: "imap-proxy",
    };
    const verified = await verifyToken(verifier, plain.stdout.trim());
    expect(verified.mailboxId).toBe(id);
    expect(() => requirePermission(verified, "messages:send")).not.toThrow();
    expect(verified.expiresAt - verified.issuedAt!).toBe(900);

    const json = await runBuiltCli(
      [
        "tokens:issue",
        "--mailbox",
        id,
        "--permission",
        "messages:read",
        "--permission",
        "messages:send",
        "--json",
      ],
      world.env,
    );
    const body = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["exp", "iat", "jti", "scope", "sub", "token"]);
    expect(body.scope).toBe("messages:read messages:send");

    const legacy = await runBuiltCli(
      ["tokens:issue", "--mailbox", id, "--permission", "messages:create"],
      world.env,
    );
    // Bad input to the command, like any other: exit 2.
    expect(legacy.code).toBe(2);
    expectOneLineError(legacy, /renamed "messages:send"/);
    const never = await runBuiltCli(
      ["tokens:issue", "--mailbox", id, "--permission", "messages:send", "--expires-in", "never"],
      world.env,
    );
    expect(never.code).toBe(2);
    expectOneLineError(never, /tokens always expire/);
    const unknown = await runBuiltCli(
      ["tokens:issue", "--mailbox", id, "--permission", "constructor"],
      world.env,
    );
    expect(unknown.code).toBe(2);
    expectOneLineError(unknown, /Unknown permission "constructor"/);
    const noMailbox = await runBuiltCli(
      ["tokens:issue", "--mailbox", "nobody@example.com", "--permission", "messages:send"],
      world.env,
    );
    expectOneLineError(noMailbox, /No mailbox matches/);
    const { JWT_SECRET: _s, ...noSecret } = world.env;
    const unsigned = await runBuiltCli(
      ["tokens:issue", "--mailbox", id, "--permission", "messages:send"],
      noSecret,
    );
    expectOneLineError(unsigned, /JWT_SECRET is not set/);
    const short = await runBuiltCli(
      ["tokens:issue", "--mailbox", id, "--permission", "messages:send"],
      { ...world.env, JWT_SECRET: "short-secret" },
    );
    expectOneLineError(short, /at least 32 bytes/);
    expect(short.stderr).not.toContain("short-secret");
  });
});

describe.runIf(process.env.DATABASE_URL)("a Postgres database is never migrated implicitly", () => {
  test("a command on an unmigrated database names db:migrate; db:migrate fixes it", async () => {
    const { openTestDatabase } = await import("@imap-proxy/testing/database");
    const empty = await openTestDatabase({ migrated: false });
    try {
      const env = { ...world.env, DATABASE_URL: empty.url };
      const refused = await runBuiltCli(["mailboxes:list"], env);
      expect(refused.code).toBe(1);
      expectOneLineError(refused, /missing \d+ migration\(s\); run `imap-proxy db:migrate`/);
      const migrated = await runBuiltCli(["db:migrate", "--json"], env);
      const { applied } = JSON.parse(migrated.stdout) as { applied: number };
      expect(applied).toBeGreaterThanOrEqual(4);
      const again = await runBuiltCli(["db:migrate", "--json"], env);
      expect(JSON.parse(again.stdout)).toMatchObject({ applied: 0 });
      expect((await runBuiltCli(["mailboxes:list", "--json"], env)).stdout.trim()).toBe("[]");
    } finally {
      await empty.close();
    }
  });
});

describe.runIf(!process.env.DATABASE_URL)("the embedded database", () => {
  test("a second process waits, then fails clearly instead of corrupting it", async () => {
    const dataDir = world.env.IMAP_PROXY_DATA_DIR!;
    const holder = await openDatabase({ kind: "pglite", dataDir });
    try {
      const result = await runBuiltCli(["mailboxes:list"], {
        ...world.env,
        IMAP_PROXY_LOCK_WAIT_MS: "300",
      });
      expect(result.code).toBe(1);
      expectOneLineError(result, /in use by another imap-proxy process/);
    } finally {
      await holder.close();
    }
    expect((await runBuiltCli(["mailboxes:list", "--json"], world.env)).code).toBe(0);
  });
});
