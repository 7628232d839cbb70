/*
 * The durable send queue on `outbound_messages`: one file per state transition, each one SQL
 * statement (the worker loop that drives them lives in @imap-proxy/sender).
 *
 *   enqueue       → queued
 *   claim         queued (due) → processing; attempts + 1; lease = (id, owner, attempt)
 *   finish        processing → sent | bounced                        (lease holder only)
 *   fail          processing → queued (backoff) | failed (attempts exhausted)
 *   release       processing → queued, due now, the attempt not counted
 *   extendLeases  processing → processing, lease renewed                 (lease holder only)
 *   recoverStale  processing (lease not renewed in time) → queued | failed
 *   dataStarted   processing, marked before a body may go out      (data-started.ts)
 *   pause         processing → queued, attempt not counted, mailbox paused (pause.ts)
 *   retryFailed   failed → queued, by an operator                  (operator-retry.ts)
 *
 * A lease is (id, owner, attempt). Every transition out of `processing` is fenced by it
 * (end-lease.ts): a worker whose lease was recovered and claimed again (a higher attempt) can
 * no longer change the row. The database's checks and transition trigger hold the same state
 * machine for every other writer (a row is born queued). The lease rule (renewal period, when
 * recovery may take a lease) is in lease.ts.
 */
export * from "./types.ts";
export * from "./backoff.ts";
export { enqueue } from "./enqueue.ts";
export { claim } from "./claim.ts";
export { markSent, markSentMany, markBounced, markBouncedMany } from "./finish.ts";
export { markFailed, markFailedMany } from "./fail.ts";
export { releaseMany } from "./release.ts";
export { extendLeases, type ExtendResult } from "./extend.ts";
export * from "./lease.ts";
export { recoverStale } from "./recover.ts";
export { markDataStarted } from "./data-started.ts";
export { type Pause, pauseMany } from "./pause.ts";
export { retryFailed } from "./operator-retry.ts";
export { type SendInput, loadSendInputs } from "./send-input.ts";
export { scrubErrorText } from "./scrub.ts";
