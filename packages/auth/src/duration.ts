import { quoted } from "@imap-proxy/errors";
import { AuthError } from "./errors.ts";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;

/**
 * The one duration syntax (token lifetimes, network timeouts): a positive whole number and one
 * of `units`, nothing else (`15m`, `500ms`; no `never`, no spaces, no fractions). Milliseconds,
 * or undefined when `text` is not one.
 */
export function parseDurationMs(text: string, units: readonly DurationUnit[]): number | undefined {
  const match = /^([1-9][0-9]{0,8})([a-z]+)$/.exec(text);
  const unit = match?.[2] as DurationUnit | undefined;
  if (!match || unit === undefined || !units.includes(unit)) return undefined;
  return Number(match[1]) * UNIT_MS[unit];
}

/** Tokens live one hour unless the operator asks otherwise. */
export const DEFAULT_TOKEN_LIFETIME = "1h";
/** No token outlives 90 days: long-lived access is re-issued, not granted forever. */
export const MAX_TOKEN_LIFETIME_SECONDS = 90 * 86_400;

/** `15m`, `24h`, `30d`: a token's lifetime in seconds. */
export function parseLifetime(text: string): number {
  const ms = parseDurationMs(text, ["s", "m", "h", "d"]);
  if (ms === undefined) {
    throw new AuthError(
      "invalid_expiry",
      `Invalid expiry ${quoted(text)}: use a positive number with a unit s, m, h or d (e.g. 15m, 24h, 30d); tokens always expire.`,
    );
  }
  if (ms / 1000 > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new AuthError(
      "invalid_expiry",
      `Expiry ${quoted(text)} is longer than the maximum of 90d.`,
    );
  }
  return ms / 1000;
}
