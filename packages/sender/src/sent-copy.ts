import { credentialScrubber } from "@imap-proxy/errors";
import { type Database, eq, findMailboxRow, messageBodies, messages } from "@imap-proxy/db";
import {
  type ClaimedSentCopy,
  claimSentCopies,
  markSentCopied,
  markSentCopyFailed,
  markSentCopySkipped,
  recoverStaleSentCopies,
} from "@imap-proxy/db/imap";
import {
  ImapError,
  type ImapPolicyOptions,
  appendSentCopy,
  classifyImapError,
  connectImap,
  shouldCopyToSent,
} from "@imap-proxy/imap";
import { type SecretOpener, imapSettingsOf } from "./imap-settings.ts";

export interface SentCopyOptions {
  db: Database;
  secrets: SecretOpener;
  /** Copies claimed per pass (default 20). */
  limit?: number;
  /** Only this mailbox's copies (the CLI and tests). */
  mailboxId?: string;
  imap?: ImapPolicyOptions;
}

export interface SentCopyReport {
  copied: number;
  /** Found already in the folder (an earlier attempt's reply was lost): recorded, not re-made. */
  alreadyPresent: number;
  skipped: number;
  retrying: number;
  failed: number;
}

/** Failures that another attempt cannot fix. */
const FINAL_CODES = new Set(["message_too_large"]);

/**
 * One pass: claims due Sent copies and makes each at most once (see `appendSentCopy`). A failure
 * only reschedules the copy (backoff) or, when final, records it; it never touches the
 * recipient rows, so a Sent copy can never cause the mail to be sent again.
 */
export async function copySentMessages(options: SentCopyOptions): Promise<SentCopyReport> {
  const { db } = options;
  const report: SentCopyReport = {
    copied: 0,
    alreadyPresent: 0,
    skipped: 0,
    retrying: 0,
    failed: 0,
  };
  const claimed = await claimSentCopies(db, {
    limit: options.limit ?? 20,
    ...(options.mailboxId ? { mailboxId: options.mailboxId } : {}),
  });
  const byMailbox = new Map<string, ClaimedSentCopy[]>();
  for (const copy of claimed)
    byMailbox.set(copy.mailboxId, [...(byMailbox.get(copy.mailboxId) ?? []), copy]);

  const fail = async (copy: ClaimedSentCopy, error: ImapError, folder?: string) => {
    const final = FINAL_CODES.has(error.code);
    await markSentCopyFailed(db, copy, {
      error: error.message,
      final,
      ...(folder ? { folder } : {}),
    });
    if (final || copy.attempt >= 8) report.failed++;
    else report.retrying++;
  };

  for (const [mailboxId, copies] of byMailbox) {
    const mailbox = await findMailboxRow(db, mailboxId);
    if (!mailbox) continue; // deleted meanwhile; its messages went with it
    if (!shouldCopyToSent(mailbox.sentCopy, mailbox)) {
      for (const copy of copies) {
        await markSentCopySkipped(
          db,
          copy,
          `sent_copy=${mailbox.sentCopy}: ${mailbox.imapHost} stores submissions itself`,
        );
        report.skipped++;
      }
      continue;
    }
    const settings = imapSettingsOf(mailbox, options.secrets);
    const scrub = credentialScrubber(settings);
    let client;
    try {
      client = await connectImap(settings, options.imap);
    } catch (error) {
      for (const copy of copies) await fail(copy, classifyImapError(error, scrub));
      continue;
    }
    try {
      for (const copy of copies) {
        const [stored] = await db
          .select({ raw: messageBodies.raw, createdAt: messages.createdAt })
          .from(messageBodies)
          .innerJoin(messages, eq(messages.id, messageBodies.messageId))
          .where(eq(messageBodies.messageId, copy.messageId));
        if (!stored) {
          await fail(copy, new ImapError("command_failed", "the message has no stored body"));
          continue;
        }
        try {
          const made = await appendSentCopy(client, {
            raw: stored.raw,
            messageIdHeader: copy.messageIdHeader,
            configuredFolder: mailbox.sentFolder,
            date: stored.createdAt,
          });
          await markSentCopied(db, copy, made);
          if (made.alreadyPresent) report.alreadyPresent++;
          else report.copied++;
        } catch (error) {
          // Ambiguous or not, the next attempt searches the folder before appending.
          // On a dead connection the remaining copies fail fast the same way.
          await fail(copy, classifyImapError(error, scrub));
        }
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
  }
  return report;
}

/**
 * Runs `copySentMessages` until `signal` aborts: a pass every `intervalMs` (default 15 s), and
 * copies held by a crashed process are recovered after `staleAfterMs` (default 10 min).
 */
export async function runSentCopier(
  options: SentCopyOptions & {
    signal: AbortSignal;
    intervalMs?: number;
    staleAfterMs?: number;
    onError?: (error: unknown) => void;
  },
): Promise<void> {
  const interval = options.intervalMs ?? 15_000;
  while (!options.signal.aborted) {
    try {
      await recoverStaleSentCopies(options.db, { olderThanMs: options.staleAfterMs ?? 600_000 });
      await copySentMessages(options);
    } catch (error) {
      options.onError?.(error);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval);
      options.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
