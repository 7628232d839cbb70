import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { CliError } from "./errors.ts";

export interface SecretSource {
  /** The environment variable that may hold it (IMAP_PASSWORD, SMTP_PASSWORD). */
  variable: string;
  /** The --…-password-file flag's value: a path, or "-" for standard input. */
  file: string | undefined;
  flag: string;
}

/** One trailing line ending is how files and `echo` end; anything else is part of the secret. */
export function stripOneLineEnding(text: string): string {
  if (text.endsWith("\r\n")) return text.slice(0, -2);
  if (text.endsWith("\n")) return text.slice(0, -1);
  return text;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString("utf8");
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
    if (source.file === "-") return stripOneLineEnding(await readAll(stdin));
    try {
      return stripOneLineEnding(await readFile(source.file, "utf8"));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      throw new CliError(
        "unreadable_secret_file",
        `${source.flag} ${source.file} cannot be read (${code}).`,
      );
    }
  }
  const fromEnv = env[source.variable];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}
