import type { Keyring } from "@imap-proxy/crypto";
import { type MailboxSettings, findMailboxRow, getMailbox, updateMailbox } from "@imap-proxy/db";
import type { MailboxFlags } from "../commands/mailbox-options.ts";
import { CancelledError, CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { promptsFor } from "../prompts/clack.ts";
import { MAILBOX_FIELDS, promptField } from "../prompts/fields.ts";
import { askSmtpModeAndPort } from "../prompts/mailbox.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import { type CommonFlags, canPrompt } from "./common.ts";
import { mailboxFieldsFromFlags } from "./mailbox-input.ts";
import { refuseMismatch, verifyBeforeSaving } from "./mailbox-save-checks.ts";

const SMTP_FIELDS = [
  "smtpHost",
  "smtpPort",
  "smtpUsername",
  "smtpPassword",
  "smtpTlsMode",
] as const;

export async function runMailboxesUpdate(
  idOrEmail: string,
  flags: MailboxFlags & CommonFlags,
  io: Io,
): Promise<void> {
  const changes = await mailboxFieldsFromFlags(flags, io);
  let keyring: Keyring | undefined;
  const updated = await withDatabase(io, async (handle) => {
    const { db } = handle;
    const secrets = async () => (keyring ??= await keyringFor(io, handle));
    const current = await getMailbox(db, idOrEmail);
    let prompted = false;
    if (Object.keys(changes).length === 0) {
      if (!canPrompt(io, flags)) {
        throw new CliError(
          "missing_input",
          "Nothing to update: pass at least one field flag (see --help).",
        );
      }
      Object.assign(changes, await promptUpdates(io, current, flags.allowPortMismatch === true));
      prompted = true;
    }
    if (changes.smtpTlsMode !== undefined || changes.smtpPort !== undefined) {
      refuseMismatch(
        {
          smtpTlsMode: changes.smtpTlsMode ?? current.smtpTlsMode,
          smtpPort: changes.smtpPort ?? current.smtpPort,
        },
        flags.allowPortMismatch === true || canPrompt(io, flags),
      );
    }
    const smtpChanged = SMTP_FIELDS.some((field) => changes[field] !== undefined);
    if (flags.verify === true || (canPrompt(io, flags) && smtpChanged)) {
      const row = (await findMailboxRow(db, current.id))!;
      const merged: MailboxSettings = {
        ...current,
        imapPassword: "",
        smtpPassword:
          changes.smtpPassword ?? (await secrets()).decryptSecret(row.smtpPasswordEncrypted),
        ...changes,
      };
      if (!(await verifyBeforeSaving(merged, flags, io))) throw new CancelledError();
    }
    // Like create: check first (above), then one last confirmation before writing.
    if (prompted) {
      const save = await promptsFor(io).confirm({
        message: "Save these changes?",
        initialValue: true,
      });
      if (!save) throw new CancelledError();
    }
    // Loaded only if a secret is touched: a non-secret edit needs no key.
    if (changes.imapPassword !== undefined || changes.smtpPassword !== undefined) await secrets();
    const sealer = { encryptSecret: (plaintext: string) => keyring!.encryptSecret(plaintext) };
    return updateMailbox(db, sealer, current.id, changes);
  });
  if (flags.json) writeJson(io, updated);
  else writeLine(io.stdout, `Updated mailbox ${updated.email} (id ${updated.id}).`);
}

async function promptUpdates(
  io: Io,
  current: Awaited<ReturnType<typeof getMailbox>>,
  allowPortMismatch: boolean,
): Promise<Partial<MailboxSettings>> {
  const prompts = promptsFor(io);
  prompts.intro(`Update ${current.email}`);
  const fields = await prompts.multiselect<keyof MailboxSettings>({
    message: "Which settings change?",
    options: Object.entries(MAILBOX_FIELDS).map(([field, { label }]) => ({
      value: field as keyof MailboxSettings,
      label,
    })),
    required: true,
  });
  // Reuse the create flow's prompts for exactly the chosen fields, current values as answers for the rest.
  const changes: Partial<MailboxSettings> = {};
  for (const field of fields.filter(
    (f): f is Exclude<keyof MailboxSettings, "smtpTlsMode" | "smtpPort"> =>
      f !== "smtpTlsMode" && f !== "smtpPort",
  )) {
    Object.assign(changes, { [field]: await promptField(prompts, field, current) });
  }
  if (fields.includes("smtpTlsMode") || fields.includes("smtpPort")) {
    const { mode, port } = await askSmtpModeAndPort(
      prompts,
      {
        mode: fields.includes("smtpTlsMode") ? undefined : current.smtpTlsMode,
        port: fields.includes("smtpPort") ? undefined : current.smtpPort,
      },
      allowPortMismatch,
    );
    changes.smtpTlsMode = mode;
    changes.smtpPort = port;
  }
  return changes;
}
