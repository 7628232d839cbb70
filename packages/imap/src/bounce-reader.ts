import type { ImapFlow } from "imapflow";
import { ImapError } from "./errors.ts";
import { type MailReport, parseMailReport } from "./report.ts";

export interface FolderPosition {
  uidValidity: number;
  lastUid: number;
}

/** Where a scan got to, and how many messages the folder held then (see `waitForNewMail`). */
export interface ScanResult extends FolderPosition {
  exists: number;
}

export interface FoundReport {
  folder: string;
  uidValidity: number;
  uid: number;
  report: MailReport;
}

/** INBOX, and the folder flagged (or named) Junk where there is one. */
export async function bounceFolders(client: ImapFlow): Promise<string[]> {
  const folders = await client.list();
  const junk = folders.find((folder) => folder.specialUse === "\\Junk");
  return junk ? ["INBOX", junk.path] : ["INBOX"];
}

/**
 * Reads the messages after `from` in one folder, read-only (EXAMINE: no flag, no move, no
 * delete can happen), and hands every DSN/ARF report to `onReport` before moving on. Only
 * `multipart/report` messages are downloaded. Returns the new position; a changed UIDVALIDITY
 * restarts the folder from its first message.
 */
export async function scanFolder(
  client: ImapFlow,
  folder: string,
  from: FolderPosition | undefined,
  onReport: (found: FoundReport) => Promise<void>,
): Promise<ScanResult> {
  const lock = await client.getMailboxLock(folder, { readOnly: true });
  try {
    const mailbox = client.mailbox;
    if (!mailbox) throw new ImapError("command_failed", `could not open ${folder}`);
    const uidValidity = Number(mailbox.uidValidity);
    const start = from && from.uidValidity === uidValidity ? from.lastUid + 1 : 1;
    const exists = mailbox.exists;
    // Only EXISTS is kept current while a folder stays selected (UIDNEXT is not): a folder
    // left open since the last scan must be fetched to learn whether anything is new.
    if (exists === 0) return { uidValidity, lastUid: start - 1, exists };
    // Collect first: no other command may run while a FETCH is being iterated.
    let lastUid = start - 1;
    const candidates: number[] = [];
    for await (const message of client.fetch(
      `${start}:*`,
      { uid: true, bodyStructure: true },
      { uid: true },
    )) {
      // `N:*` always includes the newest message, even below N.
      if (message.uid < start) continue;
      lastUid = Math.max(lastUid, message.uid);
      if (message.bodyStructure?.type?.toLowerCase() === "multipart/report") {
        candidates.push(message.uid);
      }
    }
    for (const uid of candidates) {
      const message = await client.fetchOne(
        String(uid),
        { uid: true, source: true },
        { uid: true },
      );
      if (!message || !message.source) continue;
      const report = await parseMailReport(message.source);
      if (report) await onReport({ folder, uidValidity, uid, report });
    }
    return { uidValidity, lastUid, exists };
  } finally {
    lock.release();
  }
}

/**
 * Resolves when the open mailbox reports new mail (imapflow IDLEs on its own while the
 * connection is quiet), after `maxWaitMs`, or when `signal` aborts. With `scannedExists` (the
 * count the last scan saw), mail that arrived between that scan and this wait resolves at once.
 */
export async function waitForNewMail(
  client: ImapFlow,
  folder: string,
  maxWaitMs: number,
  signal?: AbortSignal,
  scannedExists?: number,
): Promise<void> {
  const opened = await client.mailboxOpen(folder, { readOnly: true });
  if (scannedExists !== undefined && opened.exists > scannedExists) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off("exists", done);
      client.off("close", done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, maxWaitMs);
    client.on("exists", done);
    client.on("close", done);
    signal?.addEventListener("abort", done);
  });
}
