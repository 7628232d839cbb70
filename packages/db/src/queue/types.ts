import type { OutboundMessageStatus } from "../schema.ts";

export interface EnqueueInput {
  recipientEmail: string;
  subject: string;
  /** Same key for the same mailbox → the existing row is returned, nothing new is created. */
  idempotencyKey?: string;
}

export interface EnqueueResult {
  id: string;
  status: OutboundMessageStatus;
  /** False when an earlier enqueue with the same idempotency key already created it. */
  created: boolean;
}

/** What a worker holds between claim and finish. */
export interface Lease {
  id: string;
  owner: string;
  attempt: number;
}

export interface ClaimedMessage {
  id: string;
  mailboxId: string;
  recipientEmail: string;
  subject: string;
  attempts: number;
  lease: Lease;
}

/** A failed attempt: the lease it ran under and an operator-readable reason (no secrets). */
export interface Failure extends Lease, SendRecord {
  error: string;
  /** Final whatever the attempts left (a permanent refusal, `outcome_unknown`). */
  final?: boolean | undefined;
}

/** What a batch finish did: ids it changed and ids whose lease was no longer held. */
export interface FinishResult {
  finished: string[];
  rejected: string[];
}

export interface RecoveryResult {
  requeued: string[];
  /** Includes `outcomeUnknown`. */
  failed: string[];
  /** Failed because DATA had begun under the lost lease: never sent again automatically. */
  outcomeUnknown: string[];
}

/** Time and randomness are injectable so schedules can be tested exactly. */
export interface QueueClock {
  now?: () => Date;
  random?: () => number;
}

/** An SMTP reply as recorded on a row (`smtp_reply_code`, `smtp_enhanced_status`, `smtp_reply`). */
export interface ReplyRecord {
  code: number;
  enhancedStatus?: string | undefined;
  text: string;
}

/** What a send recorded besides the lease: a stable error code and the server's reply. */
export interface SendRecord {
  /** Stable code (`recipient_rejected`, `outcome_unknown`, …); none for a plain success. */
  errorCode?: string | undefined;
  reply?: ReplyRecord | undefined;
}

/** A successful or bounced send: the lease and what the server said. */
export interface Finish extends Lease, SendRecord {
  /** For a bounce: the operator-readable reason added to `error_log`. */
  error?: string | undefined;
}
