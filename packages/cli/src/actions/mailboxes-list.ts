import { listMailboxes } from "@imap-proxy/db";
import { type Io, writeJson, writeLine } from "../io.ts";
import { withDatabase } from "../runtime.ts";
import type { CommonFlags } from "./common.ts";

export async function runMailboxesList(flags: CommonFlags, io: Io): Promise<void> {
  const mailboxes = await withDatabase(io, ({ db }) => listMailboxes(db));
  if (flags.json) return writeJson(io, mailboxes);
  if (mailboxes.length === 0)
    return writeLine(io.stdout, "No mailboxes yet; add one with `imap-proxy mailboxes:create`.");
  for (const m of mailboxes) {
    writeLine(
      io.stdout,
      `${m.id}  ${m.email}  imap ${m.imapHost}:${m.imapPort}  smtp ${m.smtpHost}:${m.smtpPort} ${m.smtpTlsMode}${m.pause ? `  PAUSED (${m.pause.reason})` : ""}`,
    );
  }
}
