import { isIP } from "node:net";
import { CodedError, quoted } from "@imap-proxy/errors";
import { TrackingKeys } from "@imap-proxy/tracking";

/** Settings of the HTTP API, each with its default and its environment variable. */
export interface ApiConfig {
  /** Largest composed message accepted (413 above it). MAX_MESSAGE_BYTES, default 25 MiB. */
  maxMessageBytes: number;
  /** Sustained requests per second per token. RATE_LIMIT_PER_SECOND, default 10. */
  rateLimitPerSecond: number;
  /** Requests a token may make at once before the rate applies. RATE_LIMIT_BURST, default 50. */
  rateLimitBurst: number;
}

export const DEFAULT_API_CONFIG: ApiConfig = {
  maxMessageBytes: 25 * 1024 * 1024,
  rateLimitPerSecond: 10,
  rateLimitBurst: 50,
};

const ENV_NAMES: Record<keyof ApiConfig, string> = {
  maxMessageBytes: "MAX_MESSAGE_BYTES",
  rateLimitPerSecond: "RATE_LIMIT_PER_SECOND",
  rateLimitBurst: "RATE_LIMIT_BURST",
};

/** A setting in the environment is malformed; the server does not start. */
export class ApiConfigError extends CodedError<"invalid_input"> {
  override readonly name = "ApiConfigError";
  constructor(message: string) {
    super("invalid_input", message);
  }
}

/** Reads the settings; a set variable that is not a positive whole number is an error naming it. */
export function apiConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const config = { ...DEFAULT_API_CONFIG };
  for (const [field, name] of Object.entries(ENV_NAMES) as [keyof ApiConfig, string][]) {
    const text = env[name];
    if (text === undefined || text === "") continue;
    if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new ApiConfigError(`${name} must be a positive whole number (it is ${quoted(text)}).`);
    }
    config[field] = Number(text);
  }
  return config;
}

/**
 * The HTTP body limit that follows the message limit: attachments travel base64-encoded in
 * JSON (4/3 larger), plus room for the JSON around them.
 */
export function bodyLimitFor(maxMessageBytes: number): number {
  return Math.ceil((maxMessageBytes * 4) / 3) + 64 * 1024;
}

/** Where tracking links point and how their tokens are signed; absent: tracking is refused. */
export interface TrackingConfig {
  /** PUBLIC_URL without a trailing slash, e.g. `https://mail.example.com` (a path is kept). */
  publicUrl: string;
  keys: TrackingKeys;
}

/**
 * PUBLIC_URL and TRACKING_SECRET. Both unset: undefined (asking for tracking is a 400). One
 * without the other, or a malformed value, is a start-up error naming the variable.
 */
export function trackingConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): TrackingConfig | undefined {
  const url = env.PUBLIC_URL ?? "";
  const secret = env.TRACKING_SECRET ?? "";
  if (url === "" && secret === "") return undefined;
  if (url === "")
    throw new ApiConfigError("TRACKING_SECRET is set but PUBLIC_URL is not: tracking needs both.");
  if (secret === "")
    throw new ApiConfigError(
      "PUBLIC_URL is set but TRACKING_SECRET is not: tracking links need a signing secret.",
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ApiConfigError(`PUBLIC_URL must be an absolute http(s) URL (it is ${quoted(url)}).`);
  }
  if (!/^https?:$/.test(parsed.protocol) || parsed.search !== "" || parsed.hash !== "") {
    throw new ApiConfigError(
      `PUBLIC_URL must be an http(s) URL without query or fragment (it is ${quoted(url)}).`,
    );
  }
  return {
    publicUrl: parsed.href.replace(/\/+$/, ""),
    keys: TrackingKeys.parse(secret),
  };
}

/**
 * TRUST_PROXY, Fastify's `trustProxy`: unset = no proxy (the socket's address is the client's),
 * `true` (believe X-Forwarded-For from anyone: only behind a proxy that sets it), or
 * comma-separated addresses/CIDRs of the proxies in front.
 */
export function trustProxyFromEnv(env: NodeJS.ProcessEnv = process.env): boolean | string[] {
  const text = (env.TRUST_PROXY ?? "").trim();
  if (text === "" || text === "false") return false;
  if (text === "true") return true;
  const entries = text.split(",").map((entry) => entry.trim());
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/");
    const family = isIP(address);
    const maxPrefix = family === 4 ? 32 : 128;
    if (
      family === 0 ||
      (prefix !== undefined && (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > maxPrefix))
    ) {
      throw new ApiConfigError(
        `TRUST_PROXY must be true or comma-separated IP addresses/CIDRs (bad entry ${quoted(entry)}).`,
      );
    }
  }
  return entries;
}
