import { deleteMailbox, getMailbox } from "@imap-proxy/db";
import type { MailboxesDeleteFlags } from "../commands/mailboxes-delete.ts";
import { CancelledError, CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { promptsFor } from "../prompts/clack.ts";
import { withDatabase } from "../runtime.ts";
import { canPrompt } from "./common.ts";

export async function runMailboxesDelete(
  idOrEmail: string,
  flags: MailboxesDeleteFlags,
  io: Io,
): Promise<void> {
  let target = idOrEmail;
  if (!flags.yes) {
    // Looked up first, then the database is closed again while a person decides.
    const mailbox = await withDatabase(io, ({ db }) => getMailbox(db, idOrEmail));
    if (!canPrompt(io, flags))
      throw new CliError("confirmation_required", "Deleting needs confirmation: pass --yes.");
    const sure = await promptsFor(io).confirm({
      message: `Delete ${mailbox.email} and its finished message records? Queued mail blocks deletion.`,
      initialValue: false,
    });
    if (!sure) throw new CancelledError();
    target = mailbox.id;
  }
  const result = await withDatabase(io, async ({ db }) =>
    deleteMailbox(db, (await getMailbox(db, target)).id),
  );
  if (flags.json)
    writeJson(io, {
      deleted: result.mailbox,
      finishedMessagesDeleted: result.finishedMessagesDeleted,
    });
  else
    writeLine(
      io.stdout,
      `Deleted mailbox ${result.mailbox.email} (id ${result.mailbox.id}) and ${result.finishedMessagesDeleted} finished message record(s).`,
    );
}
