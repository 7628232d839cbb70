import type { Database } from "@imap-proxy/db";
import {
  type ClaimedMessage,
  type Pause,
  type ReplyRecord,
  type SendInput,
  loadSendInputs,
} from "@imap-proxy/db/queue";
import {
  type SendOutcome,
  type SmtpPolicyOptions,
  SmtpConnectionPool,
  type SmtpReply,
} from "@imap-proxy/smtp";

/**
 * What the handler tells the worker to record. Every kind maps to one queue transition:
 * sent/bounced → finish, failed → fail (retry or final), pause → pause (no attempt used, the
 * mailbox paused), release → back to the queue untouched, abandoned → nothing (the lease is
 * gone; another worker owns the row).
 */
export type SendResult =
  | { kind: "sent"; reply: ReplyRecord | undefined }
  | { kind: "bounced"; errorCode: string; reply: ReplyRecord | undefined; error: string }
  | {
      kind: "failed";
      /** Stable code; none for a bare thrown error. */
      errorCode: string | undefined;
      reply: ReplyRecord | undefined;
      error: string;
      final: boolean;
    }
  | { kind: "pause"; pause: Omit<Pause, "id" | "owner" | "attempt"> }
  | { kind: "release" }
  | { kind: "abandoned"; why: string };

export interface SendContext {
  /** Aborts when the worker finds this message's lease lost. */
  signal: AbortSignal;
  /**
   * Records durably that the body may now go out (the row's DATA marker); false when the lease
   * is no longer held, and then nothing is sent.
   */
  beginData: () => Promise<boolean>;
}

export interface SendHandlerOptions {
  db: Database;
  /** Opens the stored SMTP password (`@imap-proxy/crypto`'s Keyring). */
  keyring: { decryptSecret(token: string): string };
  /** The SMTP policy's options (extra CA, timeouts, EHLO name). */
  smtp?: SmtpPolicyOptions;
  /** Per connection (default 100) and idle time (default 5 min) before a connection is recycled. */
  maxMessagesPerConnection?: number;
  idleMs?: number;
}

const record = (reply: SmtpReply | undefined): ReplyRecord | undefined =>
  reply === undefined
    ? undefined
    : { code: reply.code, enhancedStatus: reply.enhancedStatus, text: reply.text };

/** The pure mapping from what SMTP said to what the queue records. */
export function sendResultOf(outcome: SendOutcome, mailboxId: string): SendResult {
  switch (outcome.kind) {
    case "sent":
      return { kind: "sent", reply: record(outcome.reply) };
    case "bounced":
      return {
        kind: "bounced",
        errorCode: outcome.code,
        reply: record(outcome.reply),
        error: `${outcome.code}: ${outcome.detail}`,
      };
    case "failed":
    case "retry":
      return {
        kind: "failed",
        errorCode: outcome.code,
        reply: record(outcome.reply),
        error: `${outcome.code}: ${outcome.detail}`,
        final: outcome.kind === "failed",
      };
    case "outcome_unknown":
      return {
        kind: "failed",
        errorCode: "outcome_unknown",
        reply: undefined,
        error: `outcome_unknown: no final reply after the body was sent (${outcome.detail}); not sent again automatically, see messages:retry`,
        final: true,
      };
    case "pause":
      return {
        kind: "pause",
        pause: {
          mailboxId,
          reason: outcome.reason,
          pausedForMs: outcome.pausedForMs,
          detail: outcome.detail,
          reply: record(outcome.reply),
        },
      };
    case "aborted":
      return { kind: "abandoned", why: outcome.detail };
  }
}

/**
 * Sends claimed recipient rows through each mailbox's own SMTP server: one connection pool per
 * mailbox (rebuilt when the mailbox changes), the stored bytes unchanged, envelope = the
 * composing mailbox → the row's recipient. Inputs of messages handled at the same moment are
 * read in one round trip.
 */
export class SendHandler {
  readonly #options: SendHandlerOptions;
  readonly #pools = new Map<string, { version: string; pool: SmtpConnectionPool }>();
  #pending = new Map<
    string,
    { resolve: (input: SendInput | undefined) => void; reject: (error: unknown) => void }[]
  >();
  #loading = false;

  constructor(options: SendHandlerOptions) {
    this.#options = options;
  }

  readonly handle = async (message: ClaimedMessage, context: SendContext): Promise<SendResult> => {
    const input = await this.#load(message.id);
    if (context.signal.aborted) return { kind: "abandoned", why: "lease lost before sending" };
    if (input === undefined)
      return {
        kind: "failed",
        errorCode: "message_missing",
        reply: undefined,
        error: "message_missing: the row disappeared",
        final: true,
      };
    const { mailbox } = input;
    if (
      mailbox.pauseReason !== null &&
      (mailbox.pausedUntil === null || mailbox.pausedUntil > new Date())
    ) {
      // Claimed just before the pause: back to the queue as if never claimed.
      return { kind: "release" };
    }
    if (input.raw === undefined)
      return {
        kind: "failed",
        errorCode: "body_missing",
        reply: undefined,
        error: "body_missing: the row has no stored message to send",
        final: true,
      };
    const outcome = await this.#poolFor(mailbox).send({
      from: input.envelopeFrom,
      to: input.recipientEmail,
      raw: input.raw,
      signal: context.signal,
      beforeData: context.beginData,
    });
    return sendResultOf(outcome, mailbox.id);
  };

  /** Closes every pool (in-flight sends finish on their connections first). */
  close(): void {
    for (const { pool } of this.#pools.values()) pool.close();
    this.#pools.clear();
  }

  #poolFor(mailbox: SendInput["mailbox"]): SmtpConnectionPool {
    const current = this.#pools.get(mailbox.id);
    if (current?.version === mailbox.version) return current.pool;
    current?.pool.close();
    const pool = new SmtpConnectionPool(
      {
        host: mailbox.smtpHost,
        port: mailbox.smtpPort,
        tlsMode: mailbox.smtpTlsMode,
        username: mailbox.smtpUsername,
        password: this.#options.keyring.decryptSecret(mailbox.smtpPasswordEncrypted),
      },
      {
        ...this.#options.smtp,
        maxConnections: mailbox.smtpMaxConnections,
        maxMessagesPerConnection: this.#options.maxMessagesPerConnection ?? 100,
        idleMs: this.#options.idleMs ?? 5 * 60_000,
      },
    );
    this.#pools.set(mailbox.id, { version: mailbox.version, pool });
    return pool;
  }

  /** Coalesces the loads asked for while one is in flight into the next single query. */
  #load(id: string): Promise<SendInput | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.#pending.get(id) ?? [];
      waiters.push({ resolve, reject });
      this.#pending.set(id, waiters);
      if (!this.#loading) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#loading = true;
    while (this.#pending.size > 0) {
      const batch = this.#pending;
      this.#pending = new Map();
      try {
        const inputs = await loadSendInputs(this.#options.db, [...batch.keys()]);
        for (const [id, waiters] of batch) for (const w of waiters) w.resolve(inputs.get(id));
      } catch (error) {
        // Each waiting handler fails; the worker records a failed attempt for it.
        for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
      }
    }
    this.#loading = false;
  }
}
