import { PassThrough } from "node:stream";
import { hasUnsafeCharacters } from "@imap-proxy/errors";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCli } from "../src/program.ts";
import { openCliWorld, type CliWorld } from "./support.ts";

let world: CliWorld;
beforeAll(async () => {
  world = await openCliWorld();
});
afterAll(async () => {
  await world?.close();
});

/** Runs the CLI in-process without a terminal; returns the exit code and what it printed. */
async function run(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const stdin = new PassThrough();
  stdin.end();
  const code = await runCli(args, {
    stdin,
    stdout,
    stderr,
    env: { ...world.env, IMAP_PASSWORD: "imap-pw", SMTP_PASSWORD: "smtp-pw" },
    interactive: false,
  });
  return { code, stdout: out, stderr: err };
}

const create = (overrides: Record<string, string>) => {
  const flags: Record<string, string> = {
    email: `ok-${Math.random().toString(36).slice(2)}@example.com`,
    "imap-host": "imap.example.com",
    "imap-username": "user",
    "smtp-host": "smtp.example.com",
    "smtp-username": "user",
    ...overrides,
  };
  return ["mailboxes:create", ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v])];
};

/** Mailboxes the accepted inputs below create; every refusal must leave the count there. */
let created = 0;

async function expectRefused(args: string[], pattern: RegExp) {
  const result = await run(args);
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  // User input is echoed escaped: nothing in the error can steer the terminal.
  expect(hasUnsafeCharacters(result.stderr.trimEnd())).toBe(false);
  expect(result.stdout).toBe("");
  return lines[0]!;
}

describe("control and bidi characters are refused in every text field", () => {
  const samples = {
    "CR/LF": "user\r\nX-Injected: 1",
    "an ANSI escape": "user\u001b[31m",
    "an OSC title": "\u001b]0;pwned\u0007",
    DEL: "user\u007f",
    "a C1 CSI": "user\u009b2J",
    "a right-to-left override": "user\u202Egnp.exe",
    "a bidi isolate": "user\u2066x\u2069",
    "a left-to-right mark": "user\u200e",
    "an Arabic letter mark": "user\u061c",
  };
  for (const [name, value] of Object.entries(samples)) {
    test(name, async () => {
      for (const flag of ["imap-username", "smtp-username", "sent-folder"])
        await expectRefused(
          create({ [flag]: value }),
          new RegExp(`--${flag} must not contain control`),
        );
    });
  }
  test("hosts and emails with controls are refused too", async () => {
    await expectRefused(create({ "imap-host": "imap\u202e.example.com" }), /--imap-host must be/);
    await expectRefused(create({ email: "a\u0007@example.com" }), /--email must be/);
  });
  test("an argument with an escape sequence is printed escaped in the error", async () => {
    const line = await expectRefused(
      create({ "smtp-tls-mode": "\u001b]0;pwned\u0007" }),
      /--smtp-tls-mode "\\u001b\]0;pwned\\u0007": it must be exactly/,
    );
    expect(line).not.toContain("\u001b");
    const unknown = await run(["mailboxes:show", "\u001b]0;pwned\u0007\u202e"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No mailbox matches "\\u001b]0;pwned\\u0007\\u202e".');
    expect(hasUnsafeCharacters(unknown.stderr.trimEnd())).toBe(false);
    const option = await run(["mailboxes:list", "--\u001b[2J"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("\\u001b[2J");
    expect(hasUnsafeCharacters(option.stderr.trimEnd())).toBe(false);
  });
});

describe("numeric hostnames", () => {
  test("0, 2130706433, 0x7f.1, 1.2.3.999 and the like are no hostnames", async () => {
    for (const host of [
      "0",
      "2130706433",
      "0x7f.1",
      "1.2.3.999",
      "0x7f000001",
      "127.1",
      "example.123",
    ])
      await expectRefused(create({ "smtp-host": host }), /--smtp-host must be a hostname/);
  });
  test("valid IP literals and names with digits are accepted", async () => {
    for (const host of [
      "127.0.0.1",
      "::1",
      "2001:db8::25",
      "123.example.com",
      "mail1.example.com",
    ]) {
      const result = await run([...create({ "smtp-host": host, "imap-host": host }), "--json"]);
      expect(result.code, result.stderr).toBe(0);
      created += 1;
      expect(JSON.parse(result.stdout)).toMatchObject({ smtpHost: host, imapHost: host });
    }
  });
});

describe("length caps (email 254, host 253, username 256)", () => {
  const label = "a".repeat(63);
  const host253 = [label, label, label, "a".repeat(61)].join(".");
  const email254 = `${"x".repeat(64)}@${[label, label, "b".repeat(57)].join(".")}.com`;
  test("at the cap is accepted", async () => {
    expect(host253).toHaveLength(253);
    expect(email254).toHaveLength(254);
    const result = await run([
      ...create({ email: email254, "smtp-host": host253, "smtp-username": "u".repeat(256) }),
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    created += 1;
  });
  test("one over is refused, naming the limit", async () => {
    await expectRefused(
      create({ "imap-host": `a${host253}` }),
      /--imap-host must be a hostname \(at most 253/,
    );
    await expectRefused(
      create({ email: `x${email254}` }),
      /--email must be at most 254 characters/,
    );
    await expectRefused(
      create({ "imap-username": "u".repeat(257) }),
      /--imap-username must be at most 256 characters/,
    );
  });
});

describe("the newer columns have flags", () => {
  test("create and update set them; show prints them", async () => {
    const made = await run([
      ...create({
        email: "columns@example.com",
        "imap-tls-mode": "starttls_required",
        "smtp-max-connections": "3",
        "sent-copy": "off",
        "sent-folder": "Gesendet",
        "bounce-reading": "on",
        "track-opens": "on",
      }),
      "--json",
    ]);
    expect(made.code, made.stderr).toBe(0);
    created += 1;
    expect(JSON.parse(made.stdout)).toMatchObject({
      imapTlsMode: "starttls_required",
      imapPort: 143, // the usual port of the mode
      smtpMaxConnections: 3,
      sentCopy: "off",
      sentFolder: "Gesendet",
      bounceReading: true,
      trackOpens: true,
      trackClicks: false,
    });
    const updated = await run([
      "mailboxes:update",
      "columns@example.com",
      "--sent-folder",
      "",
      "--track-opens",
      "off",
      "--json",
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ sentFolder: null, trackOpens: false });
    const shown = await run(["mailboxes:show", "columns@example.com"]);
    expect(shown.stdout).toMatch(/IMAP TLS Mode +starttls_required\n/);
    expect(shown.stdout).toMatch(/Sent Copy +off\n/);
  });
  test("out of range or unknown values are refused", async () => {
    await expectRefused(
      create({ "smtp-max-connections": "101" }),
      /--smtp-max-connections must be a whole number from 1 to 100/,
    );
    await expectRefused(
      create({ "bounce-reading": "yes" }),
      /--bounce-reading "yes": it must be exactly "on" or "off"/,
    );
    await expectRefused(
      create({ "imap-port": "993", "imap-tls-mode": "starttls_required" }),
      /IMAP port 993 expects implicit TLS/,
    );
  });
});

test("no refusal above wrote anything", async () => {
  expect(await world.mailboxCount()).toBe(created);
});
