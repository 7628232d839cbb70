/*
 * What the IMAP side of imap-proxy stores: each message's Sent copy (one statement per
 * transition, fenced by the attempt like the send queue's lease), the bounce reader's per-folder
 * UID checkpoints, and delivery reports (bounces, delays, complaints) per recipient row.
 *
 *   markSent(Many)      (first recipient sent) → pending, in the finish's statement
 *   claimSentCopies     pending (due) → copying; attempts + 1
 *   markSentCopied      copying → copied (folder, UIDVALIDITY, UID)
 *   markSentCopySkipped copying → skipped (policy)
 *   markSentCopyFailed  copying → pending (backoff) | failed (final, or attempts exhausted)
 *   recoverStaleSentCopies  copying (stale) → pending
 */
export * from "./sent-copy-claim.ts";
export * from "./sent-copy-finish.ts";
export * from "./checkpoint.ts";
export * from "./record-report.ts";
