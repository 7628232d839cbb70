import { type MailboxSettings, createMailbox } from "@imap-proxy/db";
import type { MailboxesCreateFlags } from "../commands/mailboxes-create.ts";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { promptsFor } from "../prompts/clack.ts";
import { promptMailboxSettings } from "../prompts/mailbox.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import { DEFAULT_IMAP_PORT, defaultSmtpPort } from "../validation.ts";
import { canPrompt } from "./common.ts";
import { REQUIRED_FOR_CREATE, mailboxFieldsFromFlags } from "./mailbox-input.ts";
import { refuseMismatch, verifyBeforeSaving } from "./mailbox-save-checks.ts";

export async function runMailboxesCreate(flags: MailboxesCreateFlags, io: Io): Promise<void> {
  const known = await mailboxFieldsFromFlags(flags, io);
  let settings: MailboxSettings;
  if (canPrompt(io, flags)) {
    settings = await promptMailboxSettings(promptsFor(io), known, {
      allowPortMismatch: flags.allowPortMismatch === true,
      verify: (complete) => verifyBeforeSaving(complete, flags, io),
    });
  } else {
    const missing = REQUIRED_FOR_CREATE.filter(([field]) => known[field] === undefined).map(
      ([, name]) => name,
    );
    if (missing.length > 0) {
      throw new CliError("missing_input", `Missing required input: ${missing.join(", ")}.`);
    }
    const smtpTlsMode = known.smtpTlsMode ?? "starttls_required";
    settings = {
      ...(known as Omit<MailboxSettings, "imapPort" | "smtpPort" | "smtpTlsMode">),
      imapPort: known.imapPort ?? DEFAULT_IMAP_PORT,
      smtpTlsMode,
      smtpPort: known.smtpPort ?? defaultSmtpPort(smtpTlsMode),
    };
    refuseMismatch(settings, flags.allowPortMismatch === true);
    await verifyBeforeSaving(settings, flags, io);
  }
  const keyring = await keyringFor(io);
  const mailbox = await withDatabase(io, ({ db }) => createMailbox(db, keyring, settings));
  if (flags.json) writeJson(io, mailbox);
  else writeLine(io.stdout, `Created mailbox ${mailbox.email} (id ${mailbox.id}).`);
}
