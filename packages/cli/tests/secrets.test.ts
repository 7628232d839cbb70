import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, test } from "vitest";
import { MAX_SECRET_BYTES, readSecret } from "../src/secrets.ts";
import { cliBundle, runBuiltCli } from "./support.ts";

const scratch = mkdtempSync(path.join(tmpdir(), "imap-proxy-secrets-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const noStdin = Readable.from([]);
const fromFile = (file: string) =>
  readSecret({ variable: "IMAP_PASSWORD", file, flag: "--imap-password-file" }, {}, noStdin);
const fromStdin = (...chunks: Buffer[]) =>
  readSecret(
    { variable: "IMAP_PASSWORD", file: "-", flag: "--imap-password-file" },
    {},
    Readable.from(chunks),
  );

function scratchFile(name: string, content: Buffer | string): string {
  const file = path.join(scratch, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

describe("password files: a regular file or stdin, at most 64 KiB, valid UTF-8", () => {
  test("a file's secret loses one line ending and nothing else", async () => {
    expect(await fromFile(scratchFile("ok", " p\u00e4ss \r\n"))).toBe(" p\u00e4ss ");
    expect(await fromFile(scratchFile("max", "x".repeat(MAX_SECRET_BYTES)))).toHaveLength(
      MAX_SECRET_BYTES,
    );
  });

  test("/dev/zero is refused before anything is read", async () => {
    await expect(fromFile("/dev/zero")).rejects.toMatchObject({
      code: "unreadable_secret_file",
      message:
        "--imap-password-file /dev/zero is not a regular file (give a file, or - for standard input).",
    });
  });

  test("a directory and a FIFO (which would block) are refused", async () => {
    await expect(fromFile(scratch)).rejects.toMatchObject({ code: "unreadable_secret_file" });
    const fifo = path.join(scratch, "fifo");
    execFileSync("mkfifo", [fifo]);
    await expect(fromFile(fifo)).rejects.toMatchObject({ code: "unreadable_secret_file" });
  });

  test("a 200 MB sparse file is refused after reading 64 KiB + 1 bytes", async () => {
    const file = scratchFile("big", "");
    truncateSync(file, 200 * 1024 * 1024);
    await expect(fromFile(file)).rejects.toMatchObject({
      code: "invalid_input",
      message: `--imap-password-file ${file} is larger than 64 KiB; a password is not.`,
    });
    await expect(
      fromFile(scratchFile("one-over", "x".repeat(MAX_SECRET_BYTES + 1))),
    ).rejects.toMatchObject({ code: "invalid_input" });
  });

  test("invalid UTF-8 is refused, never stored as U+FFFD", async () => {
    await expect(
      fromFile(scratchFile("latin1", Buffer.from([0x70, 0xe4, 0x73, 0x73]))),
    ).rejects.toThrow(/is not valid UTF-8/);
    await expect(fromStdin(Buffer.from([0xff, 0xfe]))).rejects.toMatchObject({
      code: "invalid_input",
    });
  });

  test("stdin: bounded the same way; a missing file names its error code", async () => {
    expect(await fromStdin(Buffer.from("from-"), Buffer.from("stdin\n"))).toBe("from-stdin");
    await expect(
      fromStdin(...Array.from({ length: 5 }, () => Buffer.alloc(MAX_SECRET_BYTES / 2, 0x61))),
    ).rejects.toMatchObject({ code: "invalid_input" });
    await expect(fromFile(path.join(scratch, "absent"))).rejects.toThrow(
      /cannot be read \(ENOENT\)/,
    );
  });

  test("the built CLI: one line and exit 2 for /dev/zero", async () => {
    expect(cliBundle).toMatch(/imap-proxy\.js$/);
    const result = await runBuiltCli(
      [
        "mailboxes:create",
        "--no-input",
        "--email",
        "zero@example.com",
        "--imap-host",
        "imap.example.com",
        "--imap-username",
        "u",
        "--smtp-host",
        "smtp.example.com",
        "--smtp-username",
        "u",
        "--imap-password-file",
        "/dev/zero",
      ],
      {
        PATH: process.env.PATH,
        SMTP_PASSWORD: "x",
        IMAP_PROXY_DATA_DIR: path.join(scratch, "data"),
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      "error: --imap-password-file /dev/zero is not a regular file (give a file, or - for standard input).",
    ]);
  });
});
