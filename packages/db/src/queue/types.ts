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
export interface Failure extends Lease {
  error: string;
}

/** What a batch finish did: ids it changed and ids whose lease was no longer held. */
export interface FinishResult {
  finished: string[];
  rejected: string[];
}

export interface RecoveryResult {
  requeued: string[];
  failed: string[];
}

/** Time and randomness are injectable so schedules can be tested exactly. */
export interface QueueClock {
  now?: () => Date;
  random?: () => number;
}
