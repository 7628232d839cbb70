import { CodedError } from "@imap-proxy/errors";
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

/**
 * Fernet, spec version 0x80 (https://github.com/fernet/spec), on node:crypto only:
 * token = base64url(0x80 ‖ timestamp u64 BE ‖ IV[16] ‖ AES-128-CBC(PKCS7) ‖ HMAC-SHA256[32]),
 * key = base64url(signing key[16] ‖ encryption key[16]). Byte-compatible with Python's
 * `cryptography.fernet`.
 */
const VERSION = 0x80;
const HEADER_LENGTH = 1 + 8 + 16;
const MAC_LENGTH = 32;
const BLOCK = 16;
const MIN_TOKEN_BYTES = HEADER_LENGTH + BLOCK + MAC_LENGTH;
/** The spec's allowance for a token timestamped slightly in the future. */
export const MAX_CLOCK_SKEW_SECONDS = 60;

const BASE64URL_PADDED = /^[A-Za-z0-9_-]*={0,2}$/;
const KEY_TEXT = /^[A-Za-z0-9_+/-]{43}=?$/;

/**
 * Every reason a token is refused (bad MAC, wrong key, truncation, bad base64, bad padding,
 * expiry, clock skew) is this one error with one message, so callers cannot become an oracle,
 * and the message never contains the token or any plaintext.
 */
export class InvalidTokenError extends CodedError<"fernet_token_invalid"> {
  override readonly name = "InvalidTokenError";
  constructor() {
    super(
      "fernet_token_invalid",
      "Invalid Fernet token: it was not made with any configured key, or it was altered.",
    );
  }
}

/** A malformed key. The message names the key's position, never its text. */
export class InvalidKeyError extends CodedError<"invalid_key"> {
  override readonly name = "InvalidKeyError";
  constructor(message: string) {
    super("invalid_key", message);
  }
}

export interface EncryptOptions {
  /** Seconds since the epoch to stamp into the token (tests and vectors); default now. */
  now?: number;
  /** A fixed IV, for the spec's generate vectors only; default 16 fresh random bytes. */
  iv?: Uint8Array;
}

export interface DecryptOptions {
  /** Refuse tokens older than this many seconds (and more than 60 s in the future). */
  ttlSeconds?: number;
  /** Seconds since the epoch to check the TTL against; default now. */
  now?: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export class FernetKey {
  readonly #signingKey: Buffer;
  readonly #encryptionKey: Buffer;

  private constructor(raw: Buffer) {
    this.#signingKey = raw.subarray(0, 16);
    this.#encryptionKey = raw.subarray(16, 32);
  }

  /** A fresh random key in the spec's text form (what Python's `Fernet.generate_key()` prints). */
  static generate(): string {
    return randomBytes(32).toString("base64url") + "=";
  }

  /**
   * Parses a key as Python accepts it: 32 bytes in url-safe base64 (standard alphabet and a
   * missing final `=` tolerated). `label` names the key in errors instead of its text.
   */
  static parse(text: string, label = "the Fernet key"): FernetKey {
    if (!KEY_TEXT.test(text)) {
      throw new InvalidKeyError(
        `${label} is not a valid Fernet key: expected 32 bytes in url-safe base64 (44 characters, as printed by \`imap-proxy keys:generate\`).`,
      );
    }
    const raw = Buffer.from(text.replace(/\+/g, "-").replace(/\//g, "_"), "base64url");
    if (raw.length !== 32) {
      throw new InvalidKeyError(
        `${label} is not a valid Fernet key: it does not decode to 32 bytes.`,
      );
    }
    return new FernetKey(raw);
  }

  encrypt(plaintext: string | Uint8Array, options: EncryptOptions = {}): string {
    const iv = options.iv ?? randomBytes(16);
    if (iv.length !== 16) throw new RangeError("A Fernet IV is 16 bytes.");
    const timestamp = options.now ?? nowSeconds();
    const cipher = createCipheriv("aes-128-cbc", this.#encryptionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(toBytes(plaintext)), cipher.final()]);
    const body = Buffer.allocUnsafe(HEADER_LENGTH + ciphertext.length + MAC_LENGTH);
    body[0] = VERSION;
    body.writeBigUInt64BE(BigInt(timestamp), 1);
    body.set(iv, 9);
    ciphertext.copy(body, HEADER_LENGTH);
    const macOffset = HEADER_LENGTH + ciphertext.length;
    createHmac("sha256", this.#signingKey)
      .update(body.subarray(0, macOffset))
      .digest()
      .copy(body, macOffset);
    // The spec (and Python) use base64url *with* padding.
    return padBase64(body.toString("base64url"));
  }

  /** The plaintext bytes; throws InvalidTokenError for anything but a valid token. */
  decrypt(token: string, options: DecryptOptions = {}): Buffer {
    const body = this.#verify(token, options);
    const decipher = createDecipheriv(
      "aes-128-cbc",
      this.#encryptionKey,
      body.subarray(9, HEADER_LENGTH),
    );
    try {
      return Buffer.concat([
        decipher.update(body.subarray(HEADER_LENGTH, body.length - MAC_LENGTH)),
        decipher.final(),
      ]);
    } catch {
      throw new InvalidTokenError();
    }
  }

  /** Whether this key made the token (MAC check only, no TTL, nothing decrypted). */
  signed(token: string): boolean {
    try {
      this.#verify(token, {});
      return true;
    } catch {
      return false;
    }
  }

  /** The token's bytes once its form, MAC and (optional) age are checked; MAC before decrypt. */
  #verify(token: string, options: DecryptOptions): Buffer {
    if (typeof token !== "string" || token.length % 4 !== 0 || !BASE64URL_PADDED.test(token)) {
      throw new InvalidTokenError();
    }
    const body = Buffer.from(token, "base64url");
    if (
      body.length < MIN_TOKEN_BYTES ||
      (body.length - HEADER_LENGTH - MAC_LENGTH) % BLOCK !== 0 ||
      body[0] !== VERSION
    ) {
      throw new InvalidTokenError();
    }
    const macOffset = body.length - MAC_LENGTH;
    const expected = createHmac("sha256", this.#signingKey)
      .update(body.subarray(0, macOffset))
      .digest();
    if (!timingSafeEqual(expected, body.subarray(macOffset))) throw new InvalidTokenError();
    if (options.ttlSeconds !== undefined) {
      const issuedAt = body.readBigUInt64BE(1);
      const now = BigInt(options.now ?? nowSeconds());
      if (issuedAt + BigInt(options.ttlSeconds) < now) throw new InvalidTokenError();
      if (now + BigInt(MAX_CLOCK_SKEW_SECONDS) < issuedAt) throw new InvalidTokenError();
    }
    return body;
  }

  /** The timestamp inside a token this key signed (seconds since the epoch). */
  timestampOf(token: string): number {
    return Number(this.#verify(token, {}).readBigUInt64BE(1));
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 without loss: a leading U+FEFF is kept; invalid UTF-8 is refused, never replaced. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new InvalidTokenError();
  }
}

function toBytes(plaintext: string | Uint8Array): Uint8Array {
  if (typeof plaintext !== "string") return plaintext;
  // A lone surrogate would silently become U+FFFD; refuse rather than change the secret.
  if (!plaintext.isWellFormed()) {
    throw new TypeError("The plaintext is not well-formed Unicode (it has a lone surrogate).");
  }
  return Buffer.from(plaintext, "utf8");
}

function padBase64(text: string): string {
  const remainder = text.length % 4;
  return remainder === 0 ? text : text + "=".repeat(4 - remainder);
}
