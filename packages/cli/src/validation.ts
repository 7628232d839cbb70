import { isIP } from "node:net";
import { MAILBOX_TLS_MODES, type MailboxTlsMode } from "@imap-proxy/db/schema";
import * as z from "zod/mini";
import { CliError } from "./errors.ts";

/** Longest secret accepted (well above any real password; keeps a wrong file from being stored). */
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * The one way a TLS mode enters the system: exactly `implicit` or `starttls_required`, no
 * trimming, no case folding, checked before any database access.
 */
export function parseTlsMode(value: unknown): MailboxTlsMode {
  if (typeof value === "string" && (MAILBOX_TLS_MODES as readonly string[]).includes(value)) {
    return value as MailboxTlsMode;
  }
  throw new CliError(
    "invalid_tls_mode",
    `Invalid SMTP TLS mode ${JSON.stringify(String(value))}: it must be exactly "implicit" or "starttls_required".`,
  );
}

export const TLS_MODE_HINTS: Record<MailboxTlsMode, string> = {
  implicit: "TLS from the first byte, usually port 465",
  starttls_required: "plaintext connect, mandatory STARTTLS upgrade, usually port 587",
};

/** IMAP over implicit TLS; the same default the schema gives `imap_port`. */
export const DEFAULT_IMAP_PORT = 993;

export const defaultSmtpPort = (mode: MailboxTlsMode) => (mode === "implicit" ? 465 : 587);

/** Port/mode pairs that cannot work as typed; refused unless the operator confirms. */
export function portMismatch(mode: MailboxTlsMode, port: number): string | undefined {
  if (mode === "starttls_required" && port === 465) {
    return "SMTP port 465 expects implicit TLS, but the mode is starttls_required";
  }
  if (mode === "implicit" && (port === 587 || port === 25)) {
    return `SMTP port ${port} expects a plaintext greeting and STARTTLS, but the mode is implicit`;
  }
  return undefined;
}

const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^(?=.{1,253}\\.?$)${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?$`);

// zod/mini: the same validators as zod with a tree-shakable API (the full build adds ~0.8 MB
// of locales to the bundle, which every CLI start would pay for).
export const hostSchema = z.string().check(
  z.refine((value) => isIP(value) !== 0 || HOSTNAME.test(value), {
    error: "must be a hostname or IP address (no scheme, path, port or spaces)",
  }),
);

const PORT_MESSAGE = "must be a whole number from 1 to 65535";
export const portSchema = z
  .pipe(z.string().check(z.regex(/^[0-9]{1,5}$/, { error: PORT_MESSAGE })), z.transform(Number))
  .check(z.refine((port) => port >= 1 && port <= 65535, { error: PORT_MESSAGE }));

export const emailSchema = z.email({ error: "must be an email address such as ops@example.com" });

export const usernameSchema = z.string().check(z.minLength(1, { error: "must not be empty" }));

export const secretSchema = z.string().check(
  z.minLength(1, { error: "must not be empty" }),
  z.refine((value) => Buffer.byteLength(value) <= MAX_SECRET_BYTES, {
    error: "is longer than 64 KiB",
  }),
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
