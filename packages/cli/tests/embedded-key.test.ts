import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { runBuiltCli } from "./support.ts";

const scratch = mkdtempSync(path.join(tmpdir(), "imap-proxy-embedded-key-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh embedded data directory and no FERNET_KEY: the CLI manages `fernet.key` itself. */
function embeddedEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    IMAP_PROXY_DATA_DIR: mkdtempSync(path.join(scratch, "data-")),
    IMAP_PASSWORD: "imap-pw",
    SMTP_PASSWORD: "smtp-pw",
  };
}

const create = (email: string) => [
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
  "--json",
];

describe.runIf(!process.env.DATABASE_URL)("the embedded database's key file", () => {
  test("a lost fernet.key is never replaced by a new key while passwords are stored", async () => {
    const env = embeddedEnv();
    const keyFile = path.join(env.IMAP_PROXY_DATA_DIR!, "fernet.key");
    const first = await runBuiltCli(create("first@example.com"), env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(
      `Generated a Fernet key for the embedded database in ${keyFile}`,
    );
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, "utf8")).toMatch(/^[\w-]{43}=\n$/);

    unlinkSync(keyFile);
    const second = await runBuiltCli(create("second@example.com"), env);
    expect(second.code).toBe(1);
    const lines = second.stderr.trimEnd().split("\n");
    expect(lines, second.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^error: The key file ${keyFile} is missing .*restore fernet\\.key from your backup`,
      ),
    );
    expect(() => statSync(keyFile)).toThrow();
    const list = await runBuiltCli(["mailboxes:list", "--json"], env);
    expect((JSON.parse(list.stdout) as { email: string }[]).map((m) => m.email)).toEqual([
      "first@example.com",
    ]);
  });
});
