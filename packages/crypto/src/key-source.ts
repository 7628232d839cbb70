import { CodedError } from "@imap-proxy/errors";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
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
  /**
   * Whether the database already holds secrets encrypted under some key. Asked only when the
   * key file is missing (or empty): a new key is minted only if this answers false, since
   * rows made under a lost key would otherwise sit beside rows under a new one.
   */
  storedSecretsExist: () => Promise<boolean>;
  /** Told once, when a key file is created. */
  notice?: (message: string) => void;
}

export class MissingKeyError extends CodedError<"missing_key"> {
  override readonly name = "MissingKeyError";
  constructor(message: string) {
    super("missing_key", message);
  }
}

/** The key file exists but group or others may read or write it. */
export class UnsafeKeyFileError extends CodedError<"unsafe_permissions"> {
  override readonly name = "UnsafeKeyFileError";
  constructor(message: string) {
    super("unsafe_permissions", message);
  }
}

/** The keyring for this process: FERNET_KEY, else (embedded database only) a key file. */
export async function loadKeyring(options: KeySourceOptions): Promise<Keyring> {
  if (options.fernetKey !== undefined && options.fernetKey.trim() !== "") {
    return Keyring.parse(options.fernetKey);
  }
  const file = options.generatedKeyFile;
  if (file === undefined) {
    throw new MissingKeyError(
      "FERNET_KEY is not set. With DATABASE_URL the key that encrypts mailbox passwords must be provided; create one with `imap-proxy keys:generate`.",
    );
  }
  const text = readKeyFile(file);
  if (text !== undefined && text.trim() === "") {
    // Only an older version, interrupted between creating and writing the file, leaves one.
    throw new MissingKeyError(
      (await options.storedSecretsExist())
        ? `The key file ${file} is empty but the database holds passwords encrypted under a key: restore fernet.key from your backup (or set FERNET_KEY to that key).`
        : `The key file ${file} is empty (an interrupted write) and no password is stored yet: delete it and run the command again.`,
    );
  }
  if (text !== undefined) return Keyring.parse(text.trim(), `the key in ${file}`);
  if (await options.storedSecretsExist()) {
    throw new MissingKeyError(
      `The key file ${file} is missing but the database holds passwords encrypted under a key: restore fernet.key from your backup (or set FERNET_KEY to that key); no new key was generated.`,
    );
  }
  return Keyring.parse(createKeyFile(file, options.notice), `the key in ${file}`);
}

/** The key file's text, or undefined when there is none; refuses a file others can reach. */
function readKeyFile(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UnsafeKeyFileError(`The key file ${file} is not a regular file.`);
    if ((stat.mode & 0o077) !== 0) {
      throw new UnsafeKeyFileError(
        `The key file ${file} can be read or written by other users (mode ${(stat.mode & 0o777).toString(8)}); run \`chmod 600 ${file}\` and check who could have copied it.`,
      );
    }
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a new key into a private temporary file, flushes it, then links it into place: the
 * key file appears complete or not at all (a crash leaves at most a stray temporary file), and
 * of two processes racing, the second's link fails and it reads the first one's key.
 */
function createKeyFile(file: string, notice: ((message: string) => void) | undefined): string {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = FernetKey.generate();
  const temporary = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString("hex")}`);
  const fd = openSync(temporary, "wx", 0o600);
  try {
    writeSync(fd, `${key}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readKeyFile(file) ?? "";
  } finally {
    rmSync(temporary, { force: true });
  }
  syncDirectory(dir);
  notice?.(
    `Generated a Fernet key for the embedded database in ${file} (mode 0600); back it up, it decrypts the stored passwords.`,
  );
  return key;
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
