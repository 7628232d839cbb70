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

const TEXT_FIELDS: Partial<
  Record<keyof MailboxSettings, { label: string; schema: z.ZodMiniType }>
> = {
  email: { label: "Email", schema: emailSchema },
  imapHost: { label: "IMAP Host", schema: hostSchema },
  imapPort: { label: "IMAP Port", schema: portSchema },
  imapUsername: { label: "IMAP Username", schema: usernameSchema },
  smtpHost: { label: "SMTP Host", schema: hostSchema },
  smtpUsername: { label: "SMTP Username", schema: usernameSchema },
};

/** One field of an existing mailbox, prompted with its current value (passwords masked, blank). */
export async function promptField(
  prompts: Prompts,
  field: keyof MailboxSettings,
  current: PublicMailbox,
): Promise<string | number> {
  if (field === "imapPassword" || field === "smtpPassword") {
    return prompts.password({
      message: field === "imapPassword" ? "IMAP Password" : "SMTP Password",
      validate: (v) => problemWith(secretSchema, v),
    });
  }
  const spec = TEXT_FIELDS[field];
  if (spec === undefined) throw new Error(`no prompt for ${field}`);
  const value = await prompts.text({
    message: spec.label,
    initialValue: String(current[field as keyof PublicMailbox]),
    validate: (v) => problemWith(spec.schema, v),
  });
  return field === "imapPort" ? Number(value) : value;
}
