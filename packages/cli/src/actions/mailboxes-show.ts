import { type PublicMailbox, getMailbox } from "@imap-proxy/db";
import { type Io, writeJson, writeLine } from "../io.ts";
import { summaryLines } from "../mailbox-fields.ts";
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
    summaryLines(mailbox, {
      before: [["Id", mailbox.id]],
      after: [
        ["Sending", describePause(mailbox.pause)],
        ["Created", mailbox.createdAt],
        ["Updated", mailbox.updatedAt],
      ],
    }),
  );
}

/** One line for the pause in force: why, since when, until when or until what. */
export function describePause(pause: PublicMailbox["pause"]): string {
  if (pause === null) return "active";
  const until =
    pause.pausedUntil === null
      ? "until fixed (mailboxes:update, a passing mailboxes:verify-smtp, or mailboxes:resume)"
      : `until ${pause.pausedUntil}`;
  return `PAUSED (${pause.reason}) since ${pause.pausedAt} ${until}${pause.detail ? `: ${pause.detail}` : ""}`;
}
