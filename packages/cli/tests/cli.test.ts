import { Keyring } from "@imap-proxy/crypto";
import { findMailboxRow, rowsOf, sql } from "@imap-proxy/db";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCli } from "../src/program.ts";
import { CTRL_C, DOWN, ENTER, UP, Terminal, openCliWorld, type CliWorld } from "./support.ts";

let world: CliWorld;
beforeAll(async () => {
  world = await openCliWorld();
});
afterAll(async () => {
  await world?.close();
});

describe("mailboxes:create, interactive", () => {
  test("test_mailboxes_create_prompts_for_smtp", async () => {
    const terminal = new Terminal();
    const exit = runCli(["mailboxes:create"], terminal.io(world.env));

    await terminal.answer("Email", `Ops@Example.com${ENTER}`);
    await terminal.answer("IMAP Host", `imap.example.com${ENTER}`);
    await terminal.answer("IMAP Port", ENTER); // default 993
    await terminal.answer("IMAP Username", ENTER); // default: the email
    await terminal.answer("IMAP Password", `imap-secret-Ω${ENTER}`);
    // The suggestion from the IMAP host is shown and taken with Enter, as the IMAP username is.
    const hostPrompt = await terminal.answer("SMTP Host", ENTER);
    expect(hostPrompt).toContain("smtp.example.com");

    // The TLS mode is a select of exactly the two modes, starttls_required preselected;
    // typed text changes nothing.
    await terminal.answer("SMTP TLS Mode", "tls ssl");
    const frame = await terminal.waitFor("starttls_required");
    const optionLines = frame.split("\n").filter((line) => /[●○]/.test(line));
    const lastFrame = optionLines.slice(-2);
    expect(lastFrame).toHaveLength(2);
    expect(lastFrame[0]).toMatch(/○ implicit/);
    expect(lastFrame[1]).toMatch(/● starttls_required/);
    // clack shows the hint of the highlighted option.
    expect(lastFrame[1]).toMatch(/plaintext connect, mandatory STARTTLS upgrade/);
    expect(frame).not.toMatch(/[●○] (?!implicit|starttls_required)\S/);
    await terminal.answer("starttls_required", ENTER);

    const portPrompt = await terminal.answer("SMTP Port", ENTER);
    expect(portPrompt).toContain("587"); // the default follows the mode
    await terminal.answer("Use the IMAP username and password for SMTP too?", "n");
    await terminal.answer("SMTP Username", `smtp-user${ENTER}`);
    await terminal.answer("SMTP Password", `smtp-secret-✉${ENTER}`);
    await terminal.answer("Verify the SMTP and IMAP settings now", "n");
    const summary = await terminal.answer("Create this mailbox?", ENTER);
    expect(summary).toMatch(/SMTP TLS Mode +starttls_required/);
    expect(summary).toMatch(/SMTP Max Connections +1 /); // a column default, not asked
    expect(summary).toMatch(/Sent Folder +\(none\)/);
    expect(summary).not.toContain("imap-secret");
    expect(summary).not.toContain("smtp-secret");

    expect(await exit).toBe(0);
    // The flow ends inside the prompt frame, with the new id.
    expect(terminal.text).toMatch(/└ +Created mailbox Ops@Example\.com \(id [0-9a-f-]{36}\)/);
    expect(terminal.text).not.toMatch(/imap-secret|smtp-secret/);

    const row = await world.query(({ db }) => findMailboxRow(db, "ops@example.com"));
    expect(row).toMatchObject({
      email: "Ops@Example.com",
      imapHost: "imap.example.com",
      imapPort: 993,
      imapUsername: "Ops@Example.com",
      smtpHost: "smtp.example.com",
      smtpPort: 587,
      smtpUsername: "smtp-user",
      smtpTlsMode: "starttls_required",
    });
    const keyring = Keyring.parse(world.fernetKey);
    expect(row!.smtpPasswordEncrypted).toMatch(/^gAAAAA/);
    expect(row!.imapPasswordEncrypted).toMatch(/^gAAAAA/);
    expect(keyring.decryptSecret(row!.smtpPasswordEncrypted)).toBe("smtp-secret-✉");
    expect(keyring.decryptSecret(row!.imapPasswordEncrypted)).toBe("imap-secret-Ω");
  });

  test("implicit mode moves the SMTP port default to 465; reusing IMAP credentials", async () => {
    const terminal = new Terminal();
    const exit = runCli(
      ["mailboxes:create", "--email", "implicit@example.com", "--imap-host", "mail.example.com"],
      terminal.io({ ...world.env, IMAP_PASSWORD: "shared-pw" }),
    );
    await terminal.answer("IMAP Port", ENTER);
    await terminal.answer("IMAP Username", ENTER);
    await terminal.answer("SMTP Host", `mail.example.com${ENTER}`);
    await terminal.answer("SMTP TLS Mode", `${DOWN}`);
    await terminal.answer("TLS from the first byte, usually port 465", ENTER);
    const port = await terminal.answer("SMTP Port", ENTER);
    expect(port).toContain("465");
    await terminal.answer("Use the IMAP username and password for SMTP too?", "y");
    await terminal.answer("Verify the SMTP and IMAP settings now", "n");
    await terminal.answer("Create this mailbox?", ENTER);
    expect(await exit).toBe(0);
    const row = (await world.query(({ db }) => findMailboxRow(db, "implicit@example.com")))!;
    expect(row.smtpTlsMode).toBe("implicit");
    expect(row.smtpPort).toBe(465);
    expect(row.smtpUsername).toBe("implicit@example.com");
    expect(Keyring.parse(world.fernetKey).decryptSecret(row.smtpPasswordEncrypted)).toBe(
      "shared-pw",
    );
  });

  test("a port that contradicts the mode needs an explicit yes", async () => {
    const terminal = new Terminal();
    const exit = runCli(
      [
        "mailboxes:create",
        "--email",
        "odd@example.com",
        "--imap-host",
        "imap.example.com",
        "--imap-username",
        "odd",
        "--smtp-host",
        "smtp.example.com",
        "--smtp-username",
        "odd",
      ],
      terminal.io({ ...world.env, IMAP_PASSWORD: "a", SMTP_PASSWORD: "b" }),
    );
    await terminal.answer("IMAP Port", ENTER);
    await terminal.answer("SMTP TLS Mode", ENTER); // starttls_required
    await terminal.answer("SMTP Port", `465${ENTER}`);
    await terminal.answer("Keep this combination?", "n"); // back to the mode
    await terminal.answer("SMTP TLS Mode", `${DOWN}`);
    await terminal.answer("implicit", ENTER);
    await terminal.answer("SMTP Port", ENTER);
    await terminal.answer("Verify the SMTP and IMAP settings now", "n");
    await terminal.answer("Create this mailbox?", ENTER);
    expect(await exit).toBe(0);
    const row = (await world.query(({ db }) => findMailboxRow(db, "odd@example.com")))!;
    expect([row.smtpTlsMode, row.smtpPort]).toEqual(["implicit", 465]);
  });

  test("Ctrl-C at a prompt prints Cancelled, exits non-zero and writes nothing", async () => {
    const before = await world.mailboxCount();
    const terminal = new Terminal();
    const exit = runCli(["mailboxes:create"], terminal.io(world.env));
    await terminal.answer("Email", `cancel@example.com${ENTER}`);
    await terminal.answer("IMAP Host", CTRL_C);
    expect(await exit).toBe(130);
    expect(terminal.errors.trim()).toBe("Cancelled");
    expect(await world.mailboxCount()).toBe(before);
  });

  test("declining the summary writes nothing", async () => {
    const before = await world.mailboxCount();
    const terminal = new Terminal();
    const exit = runCli(
      [
        "mailboxes:create",
        "--email",
        "no@example.com",
        "--imap-host",
        "i.example.com",
        "--imap-username",
        "u",
        "--smtp-host",
        "s.example.com",
        "--smtp-username",
        "u",
        "--imap-port",
        "993",
        "--smtp-port",
        "587",
        "--smtp-tls-mode",
        "starttls_required",
      ],
      terminal.io({ ...world.env, IMAP_PASSWORD: "a", SMTP_PASSWORD: "b" }),
    );
    await terminal.answer("Verify the SMTP and IMAP settings now", "n");
    await terminal.answer("Create this mailbox?", "n");
    expect(await exit).toBe(130);
    expect(await world.mailboxCount()).toBe(before);
    const rows = await world.query(async ({ db }) =>
      rowsOf(await db.execute(sql`SELECT 1 FROM mailboxes WHERE email = 'no@example.com'`)),
    );
    expect(rows).toHaveLength(0);
  });
});

describe("mailboxes:update, interactive", () => {
  test("picks fields from a list and prompts only for those, current values prefilled", async () => {
    const terminal = new Terminal();
    const before = (await world.query(({ db }) => findMailboxRow(db, "ops@example.com")))!;
    const exit = runCli(["mailboxes:update", "ops@example.com"], terminal.io(world.env));
    const picker = await terminal.answer(
      "Which settings change?",
      `${DOWN.repeat(6)} ${DOWN.repeat(4)} ${ENTER}`,
    );
    for (const label of ["Email", "IMAP Host", "SMTP TLS Mode", "SMTP Password", "Bounce Reading"])
      expect(picker).toContain(label);
    const hostPrompt = await terminal.answer(
      /◆\s+SMTP Host[\s\S]*smtp\.example\.com/,
      `\u0015relay.example.net${ENTER}`,
    );
    expect(hostPrompt).toContain("smtp.example.com");
    await terminal.answer(/◆\s+SMTP Password/, `rotated-smtp-secret${ENTER}`);
    await terminal.answer("Verify the SMTP and IMAP settings now", "n");
    await terminal.answer("Save these changes?", ENTER);
    expect(await exit).toBe(0);
    expect(terminal.text).not.toContain("rotated-smtp-secret");
    const after = (await world.query(({ db }) => findMailboxRow(db, "ops@example.com")))!;
    expect(after).toMatchObject({
      smtpHost: "relay.example.net",
      imapHost: before.imapHost,
      smtpPort: before.smtpPort,
    });
    const keyring = Keyring.parse(world.fernetKey);
    expect(keyring.decryptSecret(after.smtpPasswordEncrypted)).toBe("rotated-smtp-secret");
    expect(keyring.decryptSecret(after.imapPasswordEncrypted)).toBe("imap-secret-Ω");
  });

  test("prompts with the database closed; a new column is one more choice", async () => {
    const terminal = new Terminal();
    const exit = runCli(["mailboxes:update", "ops@example.com"], terminal.io(world.env));
    await terminal.waitFor("Which settings change?");
    // Another process (here: the test) can use the embedded database while a person decides.
    const meanwhile = await world.query(({ db }) => findMailboxRow(db, "ops@example.com"));
    expect(meanwhile?.bounceReading).toBe(false);
    await terminal.answer("Which settings change?", `${DOWN.repeat(14)} ${ENTER}`);
    await terminal.answer(/◆\s+Bounce Reading[\s\S]*● off/, `${UP}${ENTER}`); // starts at off
    await terminal.answer("Save these changes?", ENTER);
    expect(await exit).toBe(0);
    expect(terminal.text).toMatch(/└ +Updated mailbox Ops@Example\.com \(id /);
    const after = (await world.query(({ db }) => findMailboxRow(db, "ops@example.com")))!;
    expect(after.bounceReading).toBe(true);
  });

  test("465 with starttls_required from a flag gets the same question as create", async () => {
    const terminal = new Terminal();
    const exit = runCli(
      ["mailboxes:update", "ops@example.com", "--smtp-port", "465"],
      terminal.io(world.env),
    );
    await terminal.answer(
      "SMTP port 465 expects implicit TLS, but the mode is starttls_required. Keep this combination?",
      "n",
    );
    expect(await exit).toBe(130);
    const row = (await world.query(({ db }) => findMailboxRow(db, "ops@example.com")))!;
    expect([row.smtpTlsMode, row.smtpPort]).toEqual(["starttls_required", 587]);
  });

  test("picking the port asks the pair question, and a no asks the port again", async () => {
    const terminal = new Terminal();
    const exit = runCli(["mailboxes:update", "ops@example.com"], terminal.io(world.env));
    await terminal.answer("Which settings change?", `${DOWN.repeat(8)} ${ENTER}`);
    await terminal.answer(/◆\s+SMTP Port/, `465${ENTER}`);
    await terminal.answer("Keep this combination?", "n");
    await terminal.answer(/◆\s+SMTP Port/, `2525${ENTER}`);
    await terminal.answer("Verify the SMTP and IMAP settings now", "n");
    await terminal.answer("Save these changes?", ENTER);
    expect(await exit).toBe(0);
    const row = (await world.query(({ db }) => findMailboxRow(db, "ops@example.com")))!;
    expect([row.smtpTlsMode, row.smtpPort]).toEqual(["starttls_required", 2525]);
  });

  test("a kept mismatch at the prompt is asked once and saved", async () => {
    const terminal = new Terminal();
    const exit = runCli(["mailboxes:update", "ops@example.com"], terminal.io(world.env));
    await terminal.answer("Which settings change?", `${DOWN.repeat(8)} ${ENTER}`);
    await terminal.answer(/◆\s+SMTP Port/, `\u0015465${ENTER}`);
    await terminal.answer("Keep this combination?", "y");
    await terminal.answer("Verify the SMTP and IMAP settings now", "n");
    await terminal.answer("Save these changes?", ENTER);
    expect(await exit).toBe(0);
    // One active question (◆); the flag-path check does not ask again.
    expect(terminal.text.match(/◆\s+SMTP port 465 expects/g)).toHaveLength(1);
    const row = (await world.query(({ db }) => findMailboxRow(db, "ops@example.com")))!;
    expect([row.smtpTlsMode, row.smtpPort]).toEqual(["starttls_required", 465]);
  });
});
