import { CodedError } from "@imap-proxy/errors";

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
      throw new ApiConfigError(`${name} must be a positive whole number (it is "${text}").`);
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
