import {
  type FullMailboxSettings,
  type Mailbox,
  findMailboxRow,
  updateMailbox,
} from "@imap-proxy/db";
import { quoted } from "@imap-proxy/errors";
import type { MailboxFlags } from "../commands/mailbox-options.ts";
import { CancelledError, CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { type Known, SECRET_KEYS } from "../mailbox-fields.ts";
import { type Prompts, promptsFor } from "../prompts/clack.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import { type CommonFlags, canPrompt } from "./common.ts";
import { mailboxFieldsFromFlags } from "./mailbox-input.ts";
import { checkPortPairs, verifyBeforeSaving } from "./mailbox-save-checks.ts";

/**
 * `mailboxes:update`: read the mailbox, then (database closed) take the changes from flags or
 * prompts, check the port pairs, verify, confirm; then open the database once to save. Nothing
 * holds the embedded database while a person answers or a server is checked.
 */
export async function runMailboxesUpdate(
  idOrEmail: string,
  flags: MailboxFlags & CommonFlags,
  io: Io,
): Promise<void> {
  const changes = await mailboxFieldsFromFlags(flags, io);
  const interactive = canPrompt(io, flags);
  if (Object.keys(changes).length === 0 && !interactive) {
    throw new CliError(
      "missing_input",
      "Nothing to update: pass at least one field flag (see --help).",
    );
  }
  const row = await withDatabase(io, async ({ db }) => {
    const found = await findMailboxRow(db, idOrEmail);
    if (found === undefined)
      throw new CliError("not_found", `No mailbox matches ${quoted(idOrEmail)}.`);
    return found;
  });
  let prompts: Prompts | undefined;
  if (Object.keys(changes).length === 0) {
    prompts = promptsFor(io);
    const { promptUpdates } = await import("../prompts/mailbox.ts");
    Object.assign(changes, await promptUpdates(prompts, row, flags.allowPortMismatch === true));
  }
  const merged = { ...row, ...changes };
  // The prompts ask the pair question themselves; flags are checked here.
  if (!prompts) await checkPortPairs(merged, changes, flags, io);

  const smtpChanged = Object.keys(changes).some((key) => key.startsWith("smtp"));
  if (flags.verify === true || (interactive && smtpChanged)) {
    const keyring = await keyringFor(io);
    const withSecrets: FullMailboxSettings = {
      ...merged,
      imapPassword: changes.imapPassword ?? keyring.decryptSecret(row.imapPasswordEncrypted),
      smtpPassword: changes.smtpPassword ?? keyring.decryptSecret(row.smtpPasswordEncrypted),
    };
    if (!(await verifyBeforeSaving(withSecrets, flags, io))) throw new CancelledError();
  }
  // Like create: check first (above), then one last confirmation before writing.
  if (prompts && !(await prompts.confirm({ message: "Save these changes?", initialValue: true })))
    throw new CancelledError();

  const updated = await saveChanges(io, row, changes);
  const done = `Updated mailbox ${updated.email} (id ${updated.id}).`;
  if (flags.json) writeJson(io, updated);
  else if (prompts) prompts.outro(done);
  else writeLine(io.stdout, done);
}

/** The one database session that writes: a key is loaded only when a secret changes. */
async function saveChanges(io: Io, row: Mailbox, changes: Known) {
  const sealsSecret = SECRET_KEYS.some((key) => changes[key] !== undefined);
  const keyring = sealsSecret ? await keyringFor(io) : undefined;
  const sealer = { encryptSecret: (plaintext: string) => keyring!.encryptSecret(plaintext) };
  return withDatabase(io, ({ db }) => updateMailbox(db, sealer, row.id, changes));
}
