import { SmtpError, classifySmtpError } from "./errors.ts";

/** One SMTP reply as stored on a recipient's row. */
export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status (`5.1.1`), when the server gave one. */
  enhancedStatus: string | undefined;
  /** The reply on one line, bounded (multi-line replies joined with a space). */
  text: string;
}

const REPLY = /^([2-5]\d\d)(?:[ -]([245]\.\d{1,3}\.\d{1,3}))?/;

/** Parses the server's reply text (as nodemailer keeps it in `response`). */
export function parseReply(response: unknown): SmtpReply | undefined {
  if (typeof response !== "string") return undefined;
  const text = response.replace(/\s+/g, " ").trim().slice(0, 1000);
  const lines = response.split(/\r?\n/).filter((line) => line.trim() !== "");
  const last = lines.at(-1)?.trim() ?? "";
  const match = REPLY.exec(last) ?? REPLY.exec(text);
  if (!match) return undefined;
  return { code: Number(match[1]), enhancedStatus: match[2], text };
}

/**
 * How far a send got. Only `data` is dangerous: the body may have reached the server, so an
 * error without a final reply could hide a delivered message.
 */
export type SendPhase = "connect" | "envelope" | "data";

/** Pauses the mailbox rather than failing the message (mirrors the database's list). */
export type SendPauseReason =
  | "tls_unavailable"
  | "tls_failed"
  | "auth_failed"
  | "auth_unavailable"
  | "rate_limited"
  | "too_many_connections"
  | "quota_exceeded";

export type SendOutcome =
  | { kind: "sent"; reply: SmtpReply | undefined }
  /** The server refused the recipient (5xx to RCPT): final for this recipient. */
  | { kind: "bounced"; code: "recipient_rejected"; reply: SmtpReply | undefined; detail: string }
  /** Final failure: retrying would get the same answer. */
  | {
      kind: "failed";
      code: "sender_rejected" | "message_rejected" | "message_too_large";
      reply: SmtpReply | undefined;
      detail: string;
    }
  /** Nothing was delivered and trying later may work (attempt counted, backoff). */
  | {
      kind: "retry";
      code: "temporary_failure" | "connection_failed" | "timeout";
      reply: SmtpReply | undefined;
      detail: string;
    }
  /**
   * The mailbox, not the message, has a problem: pause it. `pausedForMs` null = until an
   * operator fixes it; the message goes back to the queue without using an attempt.
   */
  | {
      kind: "pause";
      reason: SendPauseReason;
      pausedForMs: number | null;
      reply: SmtpReply | undefined;
      detail: string;
    }
  /** The body went out and no final reply came: it may have been delivered. Never resent. */
  | { kind: "outcome_unknown"; reply: undefined; detail: string }
  /** Stopped before any of the body was sent (the lease was lost): nothing to record. */
  | { kind: "aborted"; reply: undefined; detail: string };

export const DEFAULT_PAUSE_MS = 15 * 60_000;
const MAX_PAUSE_MS = 24 * 3600_000;

const UNIT_MS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3600_000,
  hr: 3600_000,
  hrs: 3600_000,
  hour: 3600_000,
  hours: 3600_000,
};

/**
 * How long a provider asks us to wait, from its reply ("try again in 5 minutes", "retry after
 * 120 seconds", "Retry-After: 300"); 15 minutes when it does not say; at most a day.
 */
export function pauseDurationMs(text: string): number {
  const match =
    /\b(?:in|after|wait|for|retry-after:?)\s+(\d{1,6})\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|hr|h)\b/i.exec(
      text,
    ) ?? /\bretry-after:?\s*(\d{1,6})\b()/i.exec(text);
  if (!match) return DEFAULT_PAUSE_MS;
  const unit = UNIT_MS[(match[2] || "s").toLowerCase()] ?? 1000;
  return Math.min(MAX_PAUSE_MS, Math.max(1000, Number(match[1]) * unit));
}

/** Provider limits that pause the mailbox, whatever command they answered. */
function providerLimit(
  reply: SmtpReply,
): "rate_limited" | "too_many_connections" | "quota_exceeded" | undefined {
  const status = reply.enhancedStatus ?? "";
  if (reply.code === 432 && status === "4.3.2") return "too_many_connections";
  if (reply.code === 421 && status.startsWith("4.7.")) return "rate_limited";
  if (reply.code === 451 && status.startsWith("4.7.")) return "rate_limited";
  if (reply.code === 450 && status === "4.2.1") return "rate_limited";
  if (reply.code === 550 && status === "5.4.5") return "quota_exceeded";
  if (reply.code === 554 && status === "5.2.0" && /SubmissionQuotaExceeded/i.test(reply.text))
    return "quota_exceeded";
  return undefined;
}

interface NodemailerError {
  code?: string;
  command?: string;
  response?: string;
  message?: string;
}

/**
 * Classifies a failed send. `phase` is how far it got: an error with no final reply once the
 * body started (`data`) is `outcome_unknown`, never a retry.
 */
export function classifySendError(
  error: unknown,
  phase: SendPhase,
  scrub: (text: string) => string,
): SendOutcome {
  const e = (error ?? {}) as NodemailerError;
  const reply = parseReply(e.response);
  const scrubbedReply = reply && { ...reply, text: scrub(reply.text) };
  const detail = scrub(
    reply ? reply.text : (e.message ?? "unknown error").replace(/\s+/g, " "),
  ).slice(0, 500);

  // A refused or failed TLS upgrade is the mailbox's problem whatever the server replied.
  if (reply && e.code !== "ETLS") {
    const limit = providerLimit(reply);
    if (limit)
      return {
        kind: "pause",
        reason: limit,
        pausedForMs: pauseDurationMs(reply.text),
        reply: scrubbedReply,
        detail,
      };
    const permanent = reply.code >= 500 && reply.code !== 503;
    if (e.code === "EAUTH") {
      return permanent
        ? { kind: "pause", reason: "auth_failed", pausedForMs: null, reply: scrubbedReply, detail }
        : { kind: "retry", code: "temporary_failure", reply: scrubbedReply, detail };
    }
    if (!permanent)
      return { kind: "retry", code: "temporary_failure", reply: scrubbedReply, detail };
    if (reply.code === 552 || reply.enhancedStatus === "5.3.4")
      return { kind: "failed", code: "message_too_large", reply: scrubbedReply, detail };
    if (e.command === "RCPT TO")
      return { kind: "bounced", code: "recipient_rejected", reply: scrubbedReply, detail };
    if (e.command === "MAIL FROM")
      return { kind: "failed", code: "sender_rejected", reply: scrubbedReply, detail };
    if (e.command === "DATA" || phase === "data")
      return { kind: "failed", code: "message_rejected", reply: scrubbedReply, detail };
    // A 5xx to the greeting, EHLO or STARTTLS: the connection cannot be used.
    return { kind: "retry", code: "connection_failed", reply: scrubbedReply, detail };
  }

  // No reply at all from here on.
  if (phase === "data") return { kind: "outcome_unknown", reply: undefined, detail };
  // nodemailer refuses a message over the server's EHLO SIZE before MAIL FROM.
  if (e.code === "EMESSAGE" && /size larger than allowed/i.test(String(e.message)))
    return { kind: "failed", code: "message_too_large", reply: undefined, detail };
  const typed = error instanceof SmtpError ? error : classifySmtpError(error, scrub);
  switch (typed.code) {
    case "tls_unavailable":
    case "tls_failed":
    case "auth_failed":
    case "auth_unavailable":
      return { kind: "pause", reason: typed.code, pausedForMs: null, reply: undefined, detail };
    case "timeout":
      return { kind: "retry", code: "timeout", reply: undefined, detail };
    case "connection_failed":
      return { kind: "retry", code: "connection_failed", reply: undefined, detail };
  }
}
