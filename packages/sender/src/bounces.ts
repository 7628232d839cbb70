import { credentialScrubber } from "@imap-proxy/errors";
import { type Database, eq, findMailboxRow, mailboxes } from "@imap-proxy/db";
import { readCheckpoint, recordDeliveryReport, saveCheckpoint } from "@imap-proxy/db/imap";
import {
  type FoundReport,
  type ImapPolicyOptions,
  type ImapFlow,
  bounceFolders,
  classifyImapError,
  connectImap,
  scanFolder,
  waitForNewMail,
} from "@imap-proxy/imap";

import { type SecretOpener, imapSettingsOf } from "./imap-settings.ts";

export interface BounceReport {
  /** DSN/ARF reports found in the folders read. */
  reports: number;
  /** Per-recipient entries attributed to our rows and recorded (new ones only). */
  recorded: number;
  /** Rows moved sent → bounced. */
  bounced: number;
  /** Reports (or entries) that name no message of this mailbox: foreign mail, left alone. */
  ignored: number;
}

export interface BounceOptions {
  db: Database;
  secrets: SecretOpener;
  mailboxId: string;
  imap?: ImapPolicyOptions;
}

/** Records what one report says, per recipient; returns the counts it adds. */
async function recordReport(
  db: Database,
  mailboxId: string,
  found: FoundReport,
  into: BounceReport,
) {
  into.reports++;
  const { report } = found;
  if (!report.originalMessageId) {
    into.ignored++;
    return;
  }
  const place = { folder: found.folder, uidValidity: found.uidValidity, uid: found.uid };
  const entries =
    report.kind === "complaint"
      ? [
          {
            recipients: report.originalRecipient ? [report.originalRecipient] : [],
            kind: "complaint" as const,
            action: report.feedbackType,
          },
        ]
      : report.recipients.map((r) => ({
          recipients: [r.finalRecipient, r.originalRecipient].filter((a): a is string => !!a),
          kind: r.outcome,
          action: r.action,
          status: r.status,
          diagnosticCode: r.diagnosticCode,
          remoteMta: r.remoteMta,
          reportingMta: report.reportingMta,
        }));
  for (const entry of entries) {
    const result = await recordDeliveryReport(db, {
      mailboxId,
      messageIdHeader: report.originalMessageId,
      ...entry,
      ...place,
    });
    if (!result.outboundMessageId) into.ignored++;
    if (result.recorded) into.recorded++;
    if (result.bounced) into.bounced++;
  }
}

/**
 * Reads every bounce folder once from its checkpoint; the checkpoint moves after recording.
 * Returns how many messages INBOX held when it was read.
 */
async function scanAll(client: ImapFlow, options: BounceOptions, into: BounceReport) {
  let inboxExists = 0;
  for (const folder of await bounceFolders(client)) {
    const from = await readCheckpoint(options.db, options.mailboxId, folder);
    const to = await scanFolder(client, folder, from, (found) =>
      recordReport(options.db, options.mailboxId, found, into),
    );
    await saveCheckpoint(options.db, options.mailboxId, folder, {
      uidValidity: to.uidValidity,
      lastUid: to.lastUid,
    });
    if (folder === "INBOX") inboxExists = to.exists;
  }
  return inboxExists;
}

async function open(options: BounceOptions): Promise<ImapFlow> {
  const mailbox = await findMailboxRow(options.db, options.mailboxId);
  if (!mailbox) throw new Error(`No mailbox ${options.mailboxId}.`);
  const settings = imapSettingsOf(mailbox, options.secrets);
  try {
    return await connectImap(settings, options.imap);
  } catch (error) {
    throw classifyImapError(error, credentialScrubber(settings));
  }
}

/**
 * One pass over INBOX (and Junk) of one mailbox. Read-only on the server: folders are opened
 * with EXAMINE, nothing is flagged, moved or deleted.
 */
export async function readBounces(options: BounceOptions): Promise<BounceReport> {
  const report: BounceReport = { reports: 0, recorded: 0, bounced: 0, ignored: 0 };
  const client = await open(options);
  try {
    await scanAll(client, options, report);
  } finally {
    await client.logout().catch(() => client.close());
  }
  return report;
}

/**
 * Keeps reading one mailbox until `signal` aborts: a pass, then IDLE on INBOX until new mail
 * arrives (or `rescanMs`, default 5 min, for Junk); reconnects after errors with a pause.
 */
export async function watchBounces(
  options: BounceOptions & {
    signal: AbortSignal;
    rescanMs?: number;
    retryMs?: number;
    onPass?: (report: BounceReport) => void;
    onError?: (error: unknown) => void;
  },
): Promise<void> {
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      options.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), {
        once: true,
      });
    });
  while (!options.signal.aborted) {
    let client: ImapFlow | undefined;
    try {
      client = await open(options);
      while (!options.signal.aborted && client.usable) {
        const report: BounceReport = { reports: 0, recorded: 0, bounced: 0, ignored: 0 };
        const inboxExists = await scanAll(client, options, report);
        options.onPass?.(report);
        await waitForNewMail(
          client,
          "INBOX",
          options.rescanMs ?? 300_000,
          options.signal,
          inboxExists,
        );
      }
    } catch (error) {
      options.onError?.(error);
      await sleep(options.retryMs ?? 30_000);
    } finally {
      await client?.logout().catch(() => client?.close());
    }
  }
}

/** Mailboxes whose bounce reading is on. */
export async function bounceReadingMailboxIds(db: Database): Promise<string[]> {
  const rows = await db
    .select({ id: mailboxes.id })
    .from(mailboxes)
    .where(eq(mailboxes.bounceReading, true));
  return rows.map((row) => row.id);
}
