import { AuthError } from "./errors.ts";

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Tokens live one hour unless the operator asks otherwise. */
export const DEFAULT_TOKEN_LIFETIME = "1h";
/** No token outlives 90 days: long-lived access is re-issued, not granted forever. */
export const MAX_TOKEN_LIFETIME_SECONDS = 90 * 86_400;

/** `15m`, `24h`, `30d`: a positive whole number and one unit; nothing else (no `never`). */
export function parseLifetime(text: string): number {
  const match = /^([1-9][0-9]{0,8})([smhd])$/.exec(text);
  if (!match) {
    throw new AuthError(
      "invalid_expiry",
      `Invalid expiry "${text}": use a positive number with a unit s, m, h or d (e.g. 15m, 24h, 30d); tokens always expire.`,
    );
  }
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  if (seconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new AuthError("invalid_expiry", `Expiry "${text}" is longer than the maximum of 90d.`);
  }
  return seconds;
}
