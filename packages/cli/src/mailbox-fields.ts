import type { FullMailboxSettings } from "@imap-proxy/db";
import {
  MAILBOX_LIMITS,
  MAILBOX_TLS_MODES,
  type MailboxTlsMode,
  SENT_COPY_MODES,
  USUAL_PORTS,
  mailboxes,
} from "@imap-proxy/db/schema";
import * as z from "zod/mini";
import {
  choiceSchema,
  countSchema,
  emailSchema,
  hostSchema,
  portSchema,
  secretSchema,
  switchSchema,
  textSchema,
} from "./validation.ts";

/*
 * THE MAILBOX FIELD TABLE: the one place each mailbox field's label, flag, validator, default,
 * prompt and text form are written. The JSON key and the flag are the entry's key (`imapHost`
 * is `--imap-host` and `"imapHost"`); defaults, enums and lengths come from the Drizzle table.
 * Flags (commands/mailbox-options.ts), flag validation (actions/mailbox-input.ts), prompts
 * (prompts/), the summary and `mailboxes:show` read it; the repository (db/src/mailboxes.ts)
 * derives its columns from the schema itself. A new column: the schema, a migration, one entry.
 */

export type FieldKey = keyof FullMailboxSettings;
export type Known = Partial<FullMailboxSettings>;

export interface MailboxField<K extends FieldKey> {
  /** Prompt, picker and summary label. */
  label: string;
  /** The flag's argument name and its help (the flag itself is the key in kebab case). */
  arg: string;
  help: string;
  /** Parses a flag's text or a prompt's answer. */
  schema: z.ZodMiniType<FullMailboxSettings[K], string>;
  /** The value when none is given, in scripts too (column defaults, a port from its mode). */
  fallback?: (known: Known) => FullMailboxSettings[K];
  /** At the create prompt only: a suggestion taken with Enter (derived from earlier answers). */
  suggest?: (known: Known) => string | undefined;
  /** Example shown in an empty create prompt. */
  placeholder?: string;
  /** Asked by the create flow; the others take their fallback there (flags and update set them). */
  atCreate: boolean;
  /** A select of these (value → hint) instead of free text. */
  choices?: Record<string, string>;
  /** The text form: what the schema parses back, the prompt's initial value, the summary's value. */
  text?: (value: FullMailboxSettings[K]) => string;
  /** Read from a file or the environment, never a flag value; never shown. */
  secret?: true;
}

/** A column's database default, as the row would hold it (null for a nullable column without one). */
function columnDefault<K extends keyof typeof mailboxes.$inferSelect>(
  key: K,
): (typeof mailboxes.$inferSelect)[K] {
  const column = mailboxes[key];
  return (column.hasDefault ? column.default : null) as (typeof mailboxes.$inferSelect)[K];
}

const TLS_MODE_HINTS = {
  smtp: {
    implicit: `TLS from the first byte, usually port ${USUAL_PORTS.smtp.implicit}`,
    starttls_required: `plaintext connect, mandatory STARTTLS upgrade, usually port ${USUAL_PORTS.smtp.starttls_required}`,
  },
  imap: {
    implicit: `TLS from the first byte, usually port ${USUAL_PORTS.imap.implicit}`,
    starttls_required: `plaintext greeting, mandatory STARTTLS upgrade, usually port ${USUAL_PORTS.imap.starttls_required}`,
  },
} satisfies Record<keyof typeof USUAL_PORTS, Record<MailboxTlsMode, string>>;

const tlsMode = (protocol: keyof typeof USUAL_PORTS, key: "imapTlsMode" | "smtpTlsMode") => {
  const fallback = columnDefault(key);
  return {
    label: `${protocol.toUpperCase()} TLS Mode`,
    arg: "mode",
    help: `${MAILBOX_TLS_MODES.join(" | ")} (default ${fallback})`,
    schema: choiceSchema(MAILBOX_TLS_MODES),
    fallback: () => fallback,
    choices: TLS_MODE_HINTS[protocol],
  };
};

/** A port whose default follows its TLS mode (see PORT_PAIRS). */
const port = (protocol: keyof typeof USUAL_PORTS, mode: "imapTlsMode" | "smtpTlsMode") => ({
  label: `${protocol.toUpperCase()} Port`,
  arg: "port",
  help: `${protocol.toUpperCase()} port (default ${MAILBOX_TLS_MODES.map((m) => `${USUAL_PORTS[protocol][m]} for ${m}`).join(", ")})`,
  schema: portSchema,
  fallback: (known: Known) => USUAL_PORTS[protocol][known[mode] ?? columnDefault(mode)] as number,
  atCreate: true,
});

const secret = (protocol: string) => ({
  label: `${protocol} Password`,
  arg: "path",
  help: "",
  schema: secretSchema,
  atCreate: true,
  secret: true as const,
});

const switchField = (
  label: string,
  help: string,
  key: "bounceReading" | "trackOpens" | "trackClicks",
) => ({
  label,
  arg: "on|off",
  help: `${help} (default ${columnDefault(key) ? "on" : "off"})`,
  schema: switchSchema,
  fallback: () => columnDefault(key),
  atCreate: false,
  choices: { on: "yes", off: "no" },
  text: (value: boolean) => (value ? "on" : "off"),
});

/** In prompt and summary order. */
export const MAILBOX_FIELDS: { [K in FieldKey]: MailboxField<K> } = {
  email: {
    label: "Email",
    arg: "address",
    help: "the mailbox's email address (unique, case-insensitive)",
    schema: emailSchema,
    placeholder: "ops@example.com",
    atCreate: true,
  },
  imapHost: {
    label: "IMAP Host",
    arg: "host",
    help: "IMAP server hostname or IP",
    schema: hostSchema,
    placeholder: "imap.example.com",
    atCreate: true,
  },
  imapTlsMode: { ...tlsMode("imap", "imapTlsMode"), atCreate: false },
  imapPort: port("imap", "imapTlsMode"),
  imapUsername: {
    label: "IMAP Username",
    arg: "name",
    help: "IMAP login (prompts suggest the email)",
    schema: textSchema(MAILBOX_LIMITS.username),
    suggest: (known) => known.email,
    atCreate: true,
  },
  imapPassword: secret("IMAP"),
  smtpHost: {
    label: "SMTP Host",
    arg: "host",
    help: "SMTP server hostname or IP (prompts suggest the IMAP host with smtp. for imap.)",
    schema: hostSchema,
    suggest: (known) => known.imapHost?.replace(/^imap\./i, "smtp."),
    atCreate: true,
  },
  smtpTlsMode: { ...tlsMode("smtp", "smtpTlsMode"), atCreate: true },
  smtpPort: port("smtp", "smtpTlsMode"),
  smtpUsername: {
    label: "SMTP Username",
    arg: "name",
    help: "SMTP login (prompts suggest the IMAP username)",
    schema: textSchema(MAILBOX_LIMITS.username),
    suggest: (known) => known.imapUsername,
    atCreate: true,
  },
  smtpPassword: secret("SMTP"),
  smtpMaxConnections: {
    label: "SMTP Max Connections",
    arg: "n",
    help: `SMTP connections opened at once per worker, ${MAILBOX_LIMITS.smtpMaxConnections.min}–${MAILBOX_LIMITS.smtpMaxConnections.max} (default ${columnDefault("smtpMaxConnections")})`,
    schema: countSchema(
      MAILBOX_LIMITS.smtpMaxConnections.min,
      MAILBOX_LIMITS.smtpMaxConnections.max,
    ),
    fallback: () => columnDefault("smtpMaxConnections"),
    atCreate: false,
  },
  sentCopy: {
    label: "Sent Copy",
    arg: "mode",
    help: `copy sent mail to the Sent folder: ${SENT_COPY_MODES.join(" | ")} (default ${columnDefault("sentCopy")}: not for Gmail and Microsoft 365, which copy themselves)`,
    schema: choiceSchema(SENT_COPY_MODES),
    fallback: () => columnDefault("sentCopy"),
    atCreate: false,
    choices: {
      auto: "yes, except where the provider copies submissions itself",
      on: "always",
      off: "never",
    },
  },
  sentFolder: {
    label: "Sent Folder",
    arg: "name",
    help: "the folder for Sent copies when none is flagged \\Sent ('' = none)",
    // Empty clears it: the server's \Sent flag decides again.
    schema: z.union([
      z.pipe(
        z.literal(""),
        z.transform(() => null),
      ),
      textSchema(MAILBOX_LIMITS.folder),
    ]),
    fallback: () => columnDefault("sentFolder"),
    atCreate: false,
    text: (value) => value ?? "",
  },
  bounceReading: switchField(
    "Bounce Reading",
    "read bounce and complaint reports from INBOX and Junk",
    "bounceReading",
  ),
  trackOpens: switchField(
    "Track Opens",
    "track opens when a submission does not say",
    "trackOpens",
  ),
  trackClicks: switchField(
    "Track Clicks",
    "track clicks when a submission does not say",
    "trackClicks",
  ),
};

export const FIELD_KEYS = Object.keys(MAILBOX_FIELDS) as FieldKey[];
export type SecretKey = "imapPassword" | "smtpPassword";
export type PlainKey = Exclude<FieldKey, SecretKey>;
export const SECRET_KEYS = FIELD_KEYS.filter(
  (key): key is SecretKey => MAILBOX_FIELDS[key].secret === true,
);
export const PLAIN_KEYS = FIELD_KEYS.filter(
  (key): key is PlainKey => MAILBOX_FIELDS[key].secret !== true,
);

/** Each mode with the port whose default and sanity it decides. */
export const PORT_PAIRS = [
  { protocol: "imap", mode: "imapTlsMode", port: "imapPort" },
  { protocol: "smtp", mode: "smtpTlsMode", port: "smtpPort" },
] as const;
export type PortPair = (typeof PORT_PAIRS)[number];

/** `imapHost` → `imap-host`: the flag's name. */
export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** `imapPassword` → `IMAP_PASSWORD`: a secret's environment variable. */
export const envName = (key: SecretKey) => kebab(key).replace(/-/g, "_").toUpperCase();
/** How a field is named in an error: its flag, or for a secret where it comes from. */
export const inputName = (key: FieldKey) =>
  MAILBOX_FIELDS[key].secret ? `the ${secretNoun(key)}` : `--${kebab(key)}`;
/** "IMAP password": a secret as prose names it. */
export const secretNoun = (key: FieldKey) =>
  MAILBOX_FIELDS[key].label.replace(/ Password$/, " password");

export function textOf<K extends FieldKey>(key: K, value: FullMailboxSettings[K]): string {
  const field = MAILBOX_FIELDS[key];
  return field.text ? field.text(value) : String(value);
}

const HIDDEN = "•••••••• (hidden)";
const LABEL_WIDTH = Math.max(...FIELD_KEYS.map((key) => MAILBOX_FIELDS[key].label.length)) + 2;

type Line = readonly [label: string, value: string];

/** One line per field, in table order, secrets hidden; `before`/`after` add lines of their own. */
export function summaryLines(
  settings: Omit<Known, SecretKey>,
  extra: { before?: Line[]; after?: Line[] } = {},
): string {
  const fields = FIELD_KEYS.map((key): Line => [
    MAILBOX_FIELDS[key].label,
    MAILBOX_FIELDS[key].secret ? HIDDEN : textOf(key, settings[key as PlainKey] as never),
  ]);
  return [...(extra.before ?? []), ...fields, ...(extra.after ?? [])]
    .map(([label, value]) => `${label.padEnd(LABEL_WIDTH)}${value || "(none)"}`)
    .join("\n");
}

/** Every field not given, from its fallback, in table order (a port sees its mode first). */
export function withFallbacks(known: Known): Known {
  const values: Known = { ...known };
  for (const key of FIELD_KEYS) {
    const fallback = MAILBOX_FIELDS[key].fallback as ((k: Known) => unknown) | undefined;
    if (values[key] === undefined && fallback) Object.assign(values, { [key]: fallback(values) });
  }
  return values;
}
