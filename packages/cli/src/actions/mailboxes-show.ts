import { getMailbox } from "@imap-proxy/db";
import { type Io, writeJson, writeLine } from "../io.ts";
import { summary } from "../prompts/mailbox.ts";
import { withDatabase } from "../runtime.ts";
import type { CommonFlags } from "./common.ts";

export async function runMailboxesShow(
  idOrEmail: string,
  flags: CommonFlags,
  io: Io,
): Promise<void> {
  const mailbox = await withDatabase(io, ({ db }) => getMailbox(db, idOrEmail));
  if (flags.json) return writeJson(io, mailbox);
  writeLine(
    io.stdout,
    `id             ${mailbox.id}\n${summary(mailbox)}\ncreated        ${mailbox.createdAt}\nupdated        ${mailbox.updatedAt}`,
  );
}
