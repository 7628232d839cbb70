import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FernetKey } from "./fernet.ts";
import { Keyring } from "./keyring.ts";

export interface KeySourceOptions {
  /** The FERNET_KEY value, if set. */
  fernetKey: string | undefined;
  /**
   * Where the embedded database keeps its generated key, or undefined when the database is
   * a server (then a missing FERNET_KEY is an error: fail closed, never invent a key).
   */
  generatedKeyFile: string | undefined;
  /** Told once, when a key file is created. */
  notice?: (message: string) => void;
}

export class MissingKeyError extends Error {
  override readonly name = "MissingKeyError";
  readonly code = "missing_key";
}

/** The keyring for this process: FERNET_KEY, else (embedded database only) a key file. */
export function loadKeyring(options: KeySourceOptions): Keyring {
  if (options.fernetKey !== undefined && options.fernetKey.trim() !== "") {
    return Keyring.parse(options.fernetKey);
  }
  const file = options.generatedKeyFile;
  if (file === undefined) {
    throw new MissingKeyError(
      "FERNET_KEY is not set. With DATABASE_URL the key that encrypts mailbox passwords must be provided; create one with `imap-proxy keys:generate`.",
    );
  }
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text === undefined) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const key = FernetKey.generate();
    try {
      // `wx`: never overwrite a key another process just wrote.
      writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
      chmodSync(file, 0o600);
      options.notice?.(
        `Generated a Fernet key for the embedded database in ${file} (mode 0600); back it up, it decrypts the stored passwords.`,
      );
      text = key;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      text = readFileSync(file, "utf8");
    }
  }
  return Keyring.parse(text.trim(), `the key in ${file}`);
}
