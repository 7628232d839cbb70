import type { MessageStatus as StoredStatus } from "@imap-proxy/db";
import type { MessageStatus } from "../../schemas/messages.ts";

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** A stored message's status as the API shows it. */
export function toApiStatus(message: StoredStatus): MessageStatus {
  return {
    id: message.id,
    messageId: message.messageIdHeader,
    subject: message.subject,
    createdAt: message.createdAt.toISOString(),
    recipients: message.recipients.map((r) => ({
      id: r.id,
      email: r.email,
      status: r.status,
      attempts: r.attempts,
      nextRetryAt: iso(r.nextRetryAt),
      sentAt: iso(r.sentAt),
      openedAt: iso(r.openedAt),
      clickedAt: iso(r.clickedAt),
      error: r.error,
      smtpReply: r.smtpReply,
      reports: r.reports.map((report) => ({
        ...report,
        receivedAt: report.receivedAt.toISOString(),
      })),
      events: r.events,
    })),
  };
}
