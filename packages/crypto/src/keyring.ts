import {
  FernetKey,
  InvalidKeyError,
  InvalidTokenError,
  decodeUtf8,
  type DecryptOptions,
} from "./fernet.ts";

/**
 * Several Fernet keys with Python `MultiFernet` semantics: the first encrypts, any decrypts.
 * This is the one path every stored secret (IMAP and SMTP passwords alike) goes through.
 */
export class Keyring {
  readonly #keys: readonly FernetKey[];

  constructor(keys: readonly FernetKey[]) {
    if (keys.length === 0) throw new InvalidKeyError("At least one Fernet key is required.");
    this.#keys = keys;
  }

  /** `FERNET_KEY`'s form: one key, or several separated by commas (first = current). */
  static parse(text: string, variable = "FERNET_KEY"): Keyring {
    const entries = text.split(",").map((entry) => entry.trim());
    if (entries.some((entry) => entry === "")) {
      throw new InvalidKeyError(
        `${variable} has an empty entry; separate keys with single commas.`,
      );
    }
    return new Keyring(
      entries.map((entry, index) =>
        FernetKey.parse(entry, entries.length === 1 ? variable : `${variable} key #${index + 1}`),
      ),
    );
  }

  get size(): number {
    return this.#keys.length;
  }

  /** Encrypts a secret under the current (first) key. */
  encryptSecret(plaintext: string): string {
    return this.#keys[0]!.encrypt(plaintext);
  }

  /** Decrypts a stored secret with whichever configured key made it. */
  decryptSecret(token: string, options: DecryptOptions = {}): string {
    return decodeUtf8(this.decrypt(token, options));
  }

  decrypt(token: string, options: DecryptOptions = {}): Buffer {
    for (const key of this.#keys) {
      try {
        return key.decrypt(token, options);
      } catch (error) {
        if (!(error instanceof InvalidTokenError)) throw error;
      }
    }
    throw new InvalidTokenError();
  }

  /** True when the current key did not make this token, so `rotate` would rewrite it. */
  needsRotation(token: string): boolean {
    return !this.#keys[0]!.signed(token);
  }

  /**
   * Re-encrypts under the current key, keeping the original timestamp (as MultiFernet.rotate
   * does). Throws InvalidTokenError when no configured key can decrypt it.
   */
  rotate(token: string): string {
    for (const key of this.#keys) {
      if (key.signed(token)) {
        return this.#keys[0]!.encrypt(key.decrypt(token), { now: key.timestampOf(token) });
      }
    }
    throw new InvalidTokenError();
  }
}
