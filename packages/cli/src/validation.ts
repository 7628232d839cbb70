import { isIP } from "node:net";
import { parseDurationMs } from "@imap-proxy/auth/duration";
import { MAILBOX_LIMITS } from "@imap-proxy/db/schema";
import { hasUnsafeCharacters, quoted } from "@imap-proxy/errors";
import * as z from "zod/mini";
import { CliError } from "./errors.ts";

/*
 * The validators the mailbox field table (mailbox-fields.ts) is built from. Each parses the text
 * a flag or a prompt gives; limits come from the database package, next to the schema.
 */

/** Longest secret accepted (well above any real password; keeps a wrong file from being stored). */
export const MAX_SECRET_BYTES = 64 * 1024;

const NO_CONTROLS = "must not contain control or bidirectional formatting characters";

/** One line of printable text, 1 to `max` characters. */
export const textSchema = (max: number) =>
  z.string().check(
    z.minLength(1, { error: "must not be empty" }),
    z.maxLength(max, { error: `must be at most ${max} characters` }),
    z.refine((value) => !hasUnsafeCharacters(value), { error: NO_CONTROLS }),
  );

const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?$`);
/**
 * A last label that is all digits or `0x…` makes resolvers read the whole name as an IPv4
 * address (`0`, `2130706433`, `0x7f.1`, `1.2.3.999`), so such a name is no hostname.
 */
const NUMERIC_LAST_LABEL = /(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)\.?$/i;

export function isHost(value: string): boolean {
  if (isIP(value) !== 0) return true;
  return (
    value.length <= MAILBOX_LIMITS.host && HOSTNAME.test(value) && !NUMERIC_LAST_LABEL.test(value)
  );
}

// zod/mini: the same validators as zod with a tree-shakable API (the full build adds ~0.8 MB
// of locales to the bundle, which every CLI start would pay for).
export const hostSchema = z.string().check(
  z.refine(isHost, {
    error: `must be a hostname (at most ${MAILBOX_LIMITS.host} characters, not all digits) or an IP address (no scheme, path, port or spaces)`,
  }),
);

const wholeNumber = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .pipe(z.string().check(z.regex(/^[0-9]{1,9}$/, { error: message })), z.transform(Number))
    .check(z.refine((n) => n >= min && n <= max, { error: message }));
};

export const portSchema = wholeNumber(1, 65535);
export const countSchema = wholeNumber;

export const emailSchema = z
  .email({ error: "must be an email address such as ops@example.com" })
  .check(
    z.maxLength(MAILBOX_LIMITS.email, {
      error: `must be at most ${MAILBOX_LIMITS.email} characters`,
    }),
    z.refine((value) => !hasUnsafeCharacters(value), { error: NO_CONTROLS }),
  );

/** Passwords may hold any character (they are never printed), up to MAX_SECRET_BYTES. */
export const secretSchema = z.string().check(
  z.minLength(1, { error: "must not be empty" }),
  z.refine((value) => Buffer.byteLength(value) <= MAX_SECRET_BYTES, {
    error: "is longer than 64 KiB",
  }),
);

/** Exactly one of `values`: no trimming, no case folding. */
export const choiceSchema = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.string().check(
    z.refine((value) => (values as readonly string[]).includes(value), {
      error: (issue) =>
        `${quoted(String(issue.input))}: it must be exactly ${values.map((v) => `"${v}"`).join(" or ")}`,
    }),
  ) as unknown as z.ZodMiniType<T[number], string>;

/** `on` / `off`, for the mailbox's switches. */
export const switchSchema = z.pipe(
  choiceSchema(["on", "off"]),
  z.transform((v) => v === "on"),
);

/** For prompts: the message to show, or undefined when the value is fine. */
export function problemWith(schema: z.ZodMiniType, value: string | undefined): string | undefined {
  const result = schema.safeParse(value ?? "");
  return result.success ? undefined : result.error.issues[0]?.message;
}

/** Validates several named values at once; one error listing every problem. */
export function validateAll<T extends Record<string, unknown>>(checks: {
  [K in keyof T]: { label: string; schema: z.ZodMiniType<T[K]>; value: unknown };
}): T {
  const problems: string[] = [];
  const result: Partial<T> = {};
  for (const key of Object.keys(checks) as (keyof T)[]) {
    const { label, schema, value } = checks[key];
    if (value === undefined) continue;
    const parsed = schema.safeParse(value);
    if (parsed.success) result[key] = parsed.data;
    else problems.push(`${label} ${parsed.error.issues[0]?.message ?? "is invalid"}`);
  }
  if (problems.length > 0)
    throw new CliError("invalid_input", `Invalid input: ${problems.join("; ")}.`);
  return result as T;
}

/** The longest wait a timeout flag accepts (Node's timers overflow past ~24.8 days). */
const MAX_WAIT_MS = 86_400_000;

/** A timeout flag (`--smtp-timeout 15s`, `500ms`) in milliseconds; `fallbackMs` when absent. */
export function durationFlag(flag: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const ms = parseDurationMs(value, ["ms", "s"]);
  if (ms === undefined || ms > MAX_WAIT_MS)
    throw new CliError(
      "invalid_input",
      `Invalid ${flag} ${quoted(value)}: use e.g. 15s or 500ms (at most 86400s).`,
    );
  return ms;
}
