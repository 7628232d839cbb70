import type { ImapFlow } from "imapflow";
import { ImapError } from "./errors.ts";
import { appendLimitOf } from "./verify.ts";

export interface SentCopy {
  folder: string;
  uid: number;
  uidValidity: number;
  /** True when the message was already in the folder (an earlier, ambiguous attempt landed). */
  alreadyPresent: boolean;
}

/**
 * The folder the server flags `\Sent` (RFC 6154), else the configured name, else a folder whose
 * name says Sent (imapflow's guess: "Sent", "Sent Items", "Gesendet", ...).
 */
export async function findSentFolder(
  client: ImapFlow,
  configured: string | null | undefined,
): Promise<string> {
  const folders = await client.list();
  const sent = folders.filter((folder) => folder.specialUse === "\\Sent");
  const flagged = sent.find((folder) => folder.specialUseSource !== "name");
  if (flagged) return flagged.path;
  if (configured) {
    if (folders.some((folder) => folder.path === configured)) return configured;
    throw new ImapError("sent_folder_missing", `no folder named "${configured}"`);
  }
  if (sent[0]) return sent[0].path;
  throw new ImapError("sent_folder_missing", "set the mailbox's sent folder name");
}

/** UIDs in `folder` whose Message-ID header contains `messageIdHeader`; read-only (EXAMINE). */
export async function findByMessageId(
  client: ImapFlow,
  folder: string,
  messageIdHeader: string,
): Promise<{ uids: number[]; uidValidity: number }> {
  const lock = await client.getMailboxLock(folder, { readOnly: true });
  try {
    const uids = await client.search({ header: { "message-id": messageIdHeader } }, { uid: true });
    const mailbox = client.mailbox;
    if (!mailbox) throw new ImapError("command_failed", `could not open ${folder}`);
    return { uids: uids || [], uidValidity: Number(mailbox.uidValidity) };
  } finally {
    lock.release();
  }
}

/**
 * APPENDs the stored bytes to the Sent folder once, flagged `\Seen`. Before appending it
 * searches the folder for the Message-ID: a copy that an earlier attempt made (its reply lost to
 * a timeout) is found and reported instead of being made twice. A message over the server's
 * APPENDLIMIT is refused before anything is sent (`message_too_large`, final).
 */
export async function appendSentCopy(
  client: ImapFlow,
  request: {
    raw: Buffer;
    messageIdHeader: string;
    configuredFolder?: string | null;
    /** Internal date for the copy (when it was sent). */
    date?: Date;
  },
): Promise<SentCopy> {
  const folder = await findSentFolder(client, request.configuredFolder);
  const before = await findByMessageId(client, folder, request.messageIdHeader);
  if (before.uids.length > 0) {
    return {
      folder,
      uid: Math.min(...before.uids),
      uidValidity: before.uidValidity,
      alreadyPresent: true,
    };
  }
  const limit = appendLimitOf(client);
  if (limit !== undefined && request.raw.length > limit) {
    throw new ImapError("message_too_large", `${request.raw.length} bytes, APPENDLIMIT=${limit}`);
  }
  const appended = await client.append(folder, request.raw, ["\\Seen"], request.date);
  if (!appended) throw new ImapError("command_failed", `APPEND to ${folder} was refused`);
  if (appended.uid && appended.uidValidity) {
    return {
      folder,
      uid: appended.uid,
      uidValidity: Number(appended.uidValidity),
      alreadyPresent: false,
    };
  }
  // No UIDPLUS: learn the UID by searching for the copy just made.
  const after = await findByMessageId(client, folder, request.messageIdHeader);
  if (after.uids.length === 0) {
    throw new ImapError("command_failed", `the copy is not in ${folder} after APPEND`);
  }
  return {
    folder,
    uid: Math.min(...after.uids),
    uidValidity: after.uidValidity,
    alreadyPresent: false,
  };
}
