import type { MailboxSettings, PublicMailbox } from "@imap-proxy/db";
import type * as z from "zod/mini";
import {
  emailSchema,
  hostSchema,
  portSchema,
  problemWith,
  secretSchema,
  usernameSchema,
} from "../validation.ts";
import type { Prompts } from "./clack.ts";

/**
 * Every mailbox field's prompt label and validator, in prompt order: the create flow, the
 * update flow's field picker and its per-field prompts all read this one table. The TLS mode
 * has no schema: it is only ever chosen from a select.
 */
export const MAILBOX_FIELDS = {
  email: { label: "Email", schema: emailSchema },
  imapHost: { label: "IMAP Host", schema: hostSchema },
  imapPort: { label: "IMAP Port", schema: portSchema },
  imapUsername: { label: "IMAP Username", schema: usernameSchema },
  imapPassword: { label: "IMAP Password", schema: secretSchema },
  smtpHost: { label: "SMTP Host", schema: hostSchema },
  smtpTlsMode: { label: "SMTP TLS Mode", schema: undefined },
  smtpPort: { label: "SMTP Port", schema: portSchema },
  smtpUsername: { label: "SMTP Username", schema: usernameSchema },
  smtpPassword: { label: "SMTP Password", schema: secretSchema },
} as const satisfies Record<
  keyof MailboxSettings,
  { label: string; schema: z.ZodMiniType | undefined }
>;

/** One field of an existing mailbox, prompted with its current value (passwords masked, blank). */
export async function promptField(
  prompts: Prompts,
  field: Exclude<keyof MailboxSettings, "smtpTlsMode" | "smtpPort">,
  current: PublicMailbox,
): Promise<string | number> {
  const { label, schema } = MAILBOX_FIELDS[field];
  if (field === "imapPassword" || field === "smtpPassword") {
    return prompts.password({ message: label, validate: (v) => problemWith(schema, v) });
  }
  const value = await prompts.text({
    message: label,
    initialValue: String(current[field]),
    validate: (v) => problemWith(schema, v),
  });
  return field === "imapPort" ? Number(value) : value;
}
