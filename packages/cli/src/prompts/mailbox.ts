import type { MailboxSettings, MailboxTlsMode } from "@imap-proxy/db";
import { MAILBOX_TLS_MODES } from "@imap-proxy/db/schema";
import { CancelledError } from "../errors.ts";
import {
  DEFAULT_IMAP_PORT,
  TLS_MODE_HINTS,
  defaultSmtpPort,
  portMismatch,
  portSchema,
  problemWith,
} from "../validation.ts";
import type * as z from "zod/mini";
import type { Prompts } from "./clack.ts";
import { MAILBOX_FIELDS } from "./fields.ts";

const HIDDEN = "•••••••• (hidden)";

/** Asks for the SMTP TLS mode: a select of exactly the two modes, never free text. */
export function askTlsMode(prompts: Prompts, initial: MailboxTlsMode = "starttls_required") {
  return prompts.select<MailboxTlsMode>({
    message: MAILBOX_FIELDS.smtpTlsMode.label,
    options: MAILBOX_TLS_MODES.map((mode) => ({
      value: mode,
      label: mode,
      hint: TLS_MODE_HINTS[mode],
    })),
    initialValue: initial,
  });
}

/** A text prompt whose empty answer means the shown default. */
async function askWithDefault(
  prompts: Prompts,
  message: string,
  fallback: string,
  schema: z.ZodMiniType,
) {
  const answer = await prompts.text({
    message,
    placeholder: fallback,
    defaultValue: fallback,
    // clack validates before it substitutes the default, so empty is fine here.
    validate: (value) => (value ? problemWith(schema, value) : undefined),
  });
  return answer || fallback;
}

async function askPort(prompts: Prompts, message: string, fallback: number): Promise<number> {
  return Number(await askWithDefault(prompts, message, String(fallback), portSchema));
}

/**
 * The SMTP mode and port together: the port's default follows the mode, and a pair that cannot
 * work as typed needs an explicit yes (or the operator goes back and changes it).
 */
export async function askSmtpModeAndPort(
  prompts: Prompts,
  known: { mode?: MailboxTlsMode; port?: number },
  allowPortMismatch: boolean,
): Promise<{ mode: MailboxTlsMode; port: number }> {
  let initialMode = known.mode ?? "starttls_required";
  for (;;) {
    const mode = known.mode ?? (await askTlsMode(prompts, initialMode));
    const port =
      known.port ?? (await askPort(prompts, MAILBOX_FIELDS.smtpPort.label, defaultSmtpPort(mode)));
    const mismatch = portMismatch(mode, port);
    if (mismatch === undefined || allowPortMismatch) return { mode, port };
    const keep = await prompts.confirm({
      message: `${mismatch}. Keep this combination?`,
      initialValue: false,
    });
    if (keep) return { mode, port };
    if (known.mode !== undefined && known.port !== undefined) throw new CancelledError();
    initialMode = mode;
  }
}

export function summary(settings: Omit<MailboxSettings, "imapPassword" | "smtpPassword">): string {
  return [
    `Email          ${settings.email}`,
    `IMAP           ${settings.imapUsername} @ ${settings.imapHost}:${settings.imapPort} (TLS)`,
    `IMAP Password  ${HIDDEN}`,
    `SMTP           ${settings.smtpUsername} @ ${settings.smtpHost}:${settings.smtpPort}`,
    `SMTP TLS Mode  ${settings.smtpTlsMode}`,
    `SMTP Password  ${HIDDEN}`,
  ].join("\n");
}

/** Fills every field the flags did not give, by prompting; confirms before returning. */
export async function promptMailboxSettings(
  prompts: Prompts,
  known: Partial<MailboxSettings>,
  options: {
    allowPortMismatch: boolean;
    /** Offered before the summary; returns false when the operator chose not to save. */
    verify: (settings: MailboxSettings) => Promise<boolean>;
  },
): Promise<MailboxSettings> {
  prompts.intro("Register a mailbox");
  const email =
    known.email ??
    (await prompts.text({
      message: MAILBOX_FIELDS.email.label,
      placeholder: "ops@example.com",
      validate: (v) => problemWith(MAILBOX_FIELDS.email.schema, v),
    }));
  const imapHost =
    known.imapHost ??
    (await prompts.text({
      message: MAILBOX_FIELDS.imapHost.label,
      placeholder: "imap.example.com",
      validate: (v) => problemWith(MAILBOX_FIELDS.imapHost.schema, v),
    }));
  const imapPort =
    known.imapPort ?? (await askPort(prompts, MAILBOX_FIELDS.imapPort.label, DEFAULT_IMAP_PORT));
  const imapUsername =
    known.imapUsername ??
    (await askWithDefault(
      prompts,
      MAILBOX_FIELDS.imapUsername.label,
      email,
      MAILBOX_FIELDS.imapUsername.schema,
    ));
  const imapPassword =
    known.imapPassword ??
    (await prompts.password({
      message: MAILBOX_FIELDS.imapPassword.label,
      validate: (v) => problemWith(MAILBOX_FIELDS.imapPassword.schema, v),
    }));

  const smtpHost =
    known.smtpHost ??
    (await prompts.text({
      message: MAILBOX_FIELDS.smtpHost.label,
      placeholder: imapHost.replace(/^imap\./, "smtp."),
      validate: (v) => problemWith(MAILBOX_FIELDS.smtpHost.schema, v),
    }));
  const { mode: smtpTlsMode, port: smtpPort } = await askSmtpModeAndPort(
    prompts,
    { mode: known.smtpTlsMode, port: known.smtpPort },
    options.allowPortMismatch,
  );
  let smtpUsername = known.smtpUsername;
  let smtpPassword = known.smtpPassword;
  if (smtpUsername === undefined && smtpPassword === undefined) {
    const reuse = await prompts.confirm({
      message: "Use the IMAP username and password for SMTP too?",
      initialValue: true,
    });
    if (reuse) {
      smtpUsername = imapUsername;
      smtpPassword = imapPassword;
    }
  }
  smtpUsername ??= await askWithDefault(
    prompts,
    MAILBOX_FIELDS.smtpUsername.label,
    imapUsername,
    MAILBOX_FIELDS.smtpUsername.schema,
  );
  smtpPassword ??= await prompts.password({
    message: MAILBOX_FIELDS.smtpPassword.label,
    validate: (v) => problemWith(MAILBOX_FIELDS.smtpPassword.schema, v),
  });

  const settings: MailboxSettings = {
    email,
    imapHost,
    imapPort,
    imapUsername,
    imapPassword,
    smtpHost,
    smtpPort,
    smtpUsername,
    smtpPassword,
    smtpTlsMode,
  };
  if (!(await options.verify(settings))) throw new CancelledError();
  prompts.note(summary(settings), "Summary");
  if (!(await prompts.confirm({ message: "Create this mailbox?", initialValue: true })))
    throw new CancelledError();
  return settings;
}
