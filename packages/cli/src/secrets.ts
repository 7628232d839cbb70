import { constants } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { CliError } from "./errors.ts";

export interface SecretSource {
  /** The environment variable that may hold it (IMAP_PASSWORD, SMTP_PASSWORD). */
  variable: string;
  /** The --…-password-file flag's value: a path, or "-" for standard input. */
  file: string | undefined;
  flag: string;
}

/** The largest secret a file or stdin may hold; one byte more is read to tell it is too big. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** One trailing line ending is how files and `echo` end; anything else is part of the secret. */
export function stripOneLineEnding(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}

/** At most MAX_SECRET_BYTES + 1 bytes of the stream; it is not read further. */
async function readBounded(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(bytes);
    size += bytes.length;
    if (size > MAX_SECRET_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_SECRET_BYTES + 1);
}

/**
 * At most MAX_SECRET_BYTES + 1 bytes of a regular file. Opened without blocking (a FIFO would
 * wait for a writer) and checked on the open descriptor, so what is read is what was checked:
 * a device (/dev/zero), a directory or a FIFO is refused before any byte is read.
 */
async function readRegularFileBounded(source: SecretSource & { file: string }): Promise<Buffer> {
  const refuse = (why: string) =>
    new CliError("unreadable_secret_file", `${source.flag} ${source.file} ${why}.`);
  let handle;
  try {
    handle = await open(source.file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw refuse(`cannot be read (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  try {
    if (!(await handle.stat()).isFile())
      throw refuse("is not a regular file (give a file, or - for standard input)");
    const buffer = Buffer.alloc(MAX_SECRET_BYTES + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw refuse(`cannot be read (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  } finally {
    await handle.close();
  }
}

/** The secret's text: bounded, valid UTF-8 (never replaced by U+FFFD), one line ending removed. */
function decodeSecret(bytes: Buffer, where: string): string {
  if (bytes.length > MAX_SECRET_BYTES)
    throw new CliError("invalid_input", `${where} is larger than 64 KiB; a password is not.`);
  try {
    return stripOneLineEnding(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new CliError("invalid_input", `${where} is not valid UTF-8.`);
  }
}

/**
 * A secret from its file (or stdin) or its environment variable; never from argv.
 * Returns undefined when neither is given.
 */
export async function readSecret(
  source: SecretSource,
  env: NodeJS.ProcessEnv,
  stdin: Readable,
): Promise<string | undefined> {
  if (source.file !== undefined) {
    if (source.file === "-")
      return decodeSecret(await readBounded(stdin), `${source.flag} - (standard input)`);
    const file = source.file;
    return decodeSecret(
      await readRegularFileBounded({ ...source, file }),
      `${source.flag} ${file}`,
    );
  }
  const fromEnv = env[source.variable];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}
