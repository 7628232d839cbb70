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
  const result = await withDatabase(io, async ({ db }) => {
    const mailbox = await getMailbox(db, idOrEmail);
    if (!flags.yes) {
      if (!canPrompt(io, flags))
        throw new CliError("confirmation_required", "Deleting needs confirmation: pass --yes.");
      const sure = await promptsFor(io).confirm({
        message: `Delete ${mailbox.email} and its finished message records? Queued mail blocks deletion.`,
        initialValue: false,
      });
      if (!sure) throw new CancelledError();
    }
    return deleteMailbox(db, mailbox.id);
  });
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
