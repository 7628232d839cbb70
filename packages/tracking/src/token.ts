import { CodedError, isUuid } from "@imap-proxy/errors";
import { createHmac, timingSafeEqual } from "node:crypto";

/** What a tracking token names: an open of a recipient row, or a click on one of its links. */
export type TrackingTarget =
  { kind: "open"; recipientId: string } | { kind: "click"; recipientId: string; link: number };

export class InvalidTrackingSecretError extends CodedError<"invalid_tracking_secret"> {
  override readonly name = "InvalidTrackingSecretError";
  constructor(message: string) {
    super("invalid_tracking_secret", message);
  }
}

/** Each secret's minimum length in bytes (as UTF-8), as for `JWT_SECRET`. */
export const MIN_TRACKING_SECRET_BYTES = 32;

const KIND_BYTE = { open: 1, click: 2 } as const;
const MAC_BYTES = 16;
// Domain separation: these keys sign nothing else, but a secret reused elsewhere stays safe.
const MAC_CONTEXT = Buffer.from("imap-proxy tracking v1\0");

/**
 * The `TRACKING_SECRET` keyring, rotated like `FERNET_KEY`: several comma-separated secrets,
 * the first signs, any verifies. A token is base64url of
 * `kind (1) | recipient uuid (16) | [link index (2, clicks)] | HMAC-SHA256 truncated to 16`,
 * so it is short (44 or 47 characters), opaque, and names nothing a reader could use.
 */
export class TrackingKeys {
  readonly #secrets: readonly Buffer[];

  constructor(secrets: readonly Buffer[]) {
    if (secrets.length === 0)
      throw new InvalidTrackingSecretError("At least one tracking secret is required.");
    this.#secrets = secrets;
  }

  static parse(text: string, variable = "TRACKING_SECRET"): TrackingKeys {
    const entries = text.split(",").map((entry) => entry.trim());
    return new TrackingKeys(
      entries.map((entry, index) => {
        const name = entries.length === 1 ? variable : `${variable} secret #${index + 1}`;
        if (entry === "") {
          throw new InvalidTrackingSecretError(
            `${name} is empty; separate secrets with single commas.`,
          );
        }
        const bytes = Buffer.from(entry, "utf8");
        if (bytes.length < MIN_TRACKING_SECRET_BYTES) {
          throw new InvalidTrackingSecretError(
            `${name} is too short: use at least ${MIN_TRACKING_SECRET_BYTES} bytes (e.g. \`openssl rand -base64 32\`).`,
          );
        }
        return bytes;
      }),
    );
  }

  sign(target: TrackingTarget): string {
    const payload = encodePayload(target);
    return Buffer.concat([payload, mac(this.#secrets[0]!, payload)]).toString("base64url");
  }

  /** The target a token names, or undefined for anything not signed by a configured secret. */
  verify(token: string): TrackingTarget | undefined {
    if (token.length > 64 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    const bytes = Buffer.from(token, "base64url");
    const kind = bytes[0];
    const payloadLength = kind === KIND_BYTE.open ? 17 : kind === KIND_BYTE.click ? 19 : undefined;
    if (payloadLength === undefined || bytes.length !== payloadLength + MAC_BYTES) return undefined;
    // Re-encoding must give the token back: no second spelling of the same bytes is accepted.
    if (bytes.toString("base64url") !== token) return undefined;
    const payload = bytes.subarray(0, payloadLength);
    const given = bytes.subarray(payloadLength);
    let valid = false;
    for (const secret of this.#secrets)
      valid = timingSafeEqual(mac(secret, payload), given) || valid;
    if (!valid) return undefined;
    const recipientId = formatUuid(payload.subarray(1, 17));
    return kind === KIND_BYTE.open
      ? { kind: "open", recipientId }
      : { kind: "click", recipientId, link: payload.readUInt16BE(17) };
  }
}

function encodePayload(target: TrackingTarget): Buffer {
  if (!isUuid(target.recipientId)) throw new TypeError("recipientId must be a UUID.");
  const uuid = Buffer.from(target.recipientId.replaceAll("-", ""), "hex");
  if (target.kind === "open") return Buffer.concat([Buffer.of(KIND_BYTE.open), uuid]);
  if (!Number.isInteger(target.link) || target.link < 0 || target.link > 0xffff) {
    throw new RangeError("A link index is 0-65535.");
  }
  const link = Buffer.alloc(2);
  link.writeUInt16BE(target.link);
  return Buffer.concat([Buffer.of(KIND_BYTE.click), uuid, link]);
}

function mac(secret: Buffer, payload: Buffer): Buffer {
  return createHmac("sha256", secret)
    .update(MAC_CONTEXT)
    .update(payload)
    .digest()
    .subarray(0, MAC_BYTES);
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
