import { getMailbox, resumeMailbox } from "@imap-proxy/db";
import { type Io, writeJson, writeLine } from "../io.ts";
import { withDatabase } from "../runtime.ts";
import type { CommonFlags } from "./common.ts";

export async function runMailboxesResume(
  idOrEmail: string,
  flags: CommonFlags,
  io: Io,
): Promise<void> {
  const mailbox = await withDatabase(io, async ({ db }) =>
    resumeMailbox(db, (await getMailbox(db, idOrEmail)).id),
  );
  if (flags.json) return writeJson(io, mailbox);
  writeLine(io.stdout, `Sending resumed for ${mailbox.email}; its queued messages go out again.`);
}
