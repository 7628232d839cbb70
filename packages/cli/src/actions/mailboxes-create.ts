import { type FullMailboxSettings, createMailbox } from "@imap-proxy/db";
import type { MailboxesCreateFlags } from "../commands/mailboxes-create.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { type Prompts, promptsFor } from "../prompts/clack.ts";
import { promptMailboxSettings } from "../prompts/mailbox.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import { canPrompt } from "./common.ts";
import { completeForCreate, mailboxFieldsFromFlags } from "./mailbox-input.ts";
import { checkPortPairs, verifyBeforeSaving } from "./mailbox-save-checks.ts";

export async function runMailboxesCreate(flags: MailboxesCreateFlags, io: Io): Promise<void> {
  const known = await mailboxFieldsFromFlags(flags, io);
  let settings: FullMailboxSettings;
  let prompts: Prompts | undefined;
  if (canPrompt(io, flags)) {
    prompts = promptsFor(io);
    settings = await promptMailboxSettings(prompts, known, {
      allowPortMismatch: flags.allowPortMismatch === true,
      verify: (complete) => verifyBeforeSaving(complete, flags, io),
    });
  } else {
    settings = completeForCreate(known);
    await checkPortPairs(settings, settings, flags, io);
    await verifyBeforeSaving(settings, flags, io);
  }
  const keyring = await keyringFor(io);
  const mailbox = await withDatabase(io, ({ db }) => createMailbox(db, keyring, settings));
  const done = `Created mailbox ${mailbox.email} (id ${mailbox.id}).`;
  if (flags.json) writeJson(io, mailbox);
  else if (prompts) prompts.outro(done);
  else writeLine(io.stdout, done);
}
