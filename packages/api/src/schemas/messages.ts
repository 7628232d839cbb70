import {
  DELIVERY_REPORT_KINDS,
  MAILBOX_LIMITS,
  OUTBOUND_MESSAGE_STATUSES,
  TRACKING_EVENT_KINDS,
  TRACKING_EVENT_LABELS,
} from "@imap-proxy/db/schema";
import { z } from "zod";

/*
 * The submit and status shapes. Validation, TypeScript types and the OpenAPI document all come
 * from these schemas.
 */

const ONE_LINE = /^[^\r\n]*$/;
const oneLine = (max: number) =>
  z.string().max(max).regex(ONE_LINE, "must be one line (no CR or LF)");

const Address = z.email("must be an email address").max(MAILBOX_LIMITS.email);
export const Recipient = z
  .union([Address, z.object({ name: oneLine(200).optional(), address: Address }).strict()])
  .describe('"a@example.com" or { "name": "A", "address": "a@example.com" }')
  .meta({ id: "Recipient" });
export type Recipient = z.infer<typeof Recipient>;

/** Header names an application may set; everything else is refused (never silently dropped). */
const ALLOWED_HEADERS = new Set([
  "list-unsubscribe",
  "list-unsubscribe-post",
  "in-reply-to",
  "references",
]);
const HEADER_NAME = /^[!-9;-~]+$/;
export const isAllowedHeader = (name: string) =>
  HEADER_NAME.test(name) && (ALLOWED_HEADERS.has(name.toLowerCase()) || /^x-./i.test(name));

const Headers = z
  .record(z.string(), oneLine(998))
  .superRefine((headers, context) => {
    for (const name of Object.keys(headers)) {
      if (!isAllowedHeader(name)) {
        context.addIssue({
          code: "custom",
          path: [name],
          message:
            "header not allowed: only X-*, List-Unsubscribe, List-Unsubscribe-Post, In-Reply-To and References",
        });
      }
    }
  })
  .describe("Extra headers: X-*, List-Unsubscribe, List-Unsubscribe-Post, In-Reply-To, References");

const Attachment = z
  .object({
    filename: oneLine(255).min(1),
    contentType: z
      .string()
      .max(255)
      .regex(/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+$/, "must be a MIME type such as application/pdf"),
    content: z.base64("must be base64"),
    cid: oneLine(255)
      .regex(/^[^<>\s]+$/, "must be a Content-ID without angle brackets or spaces")
      .optional(),
  })
  .strict();

export const SubmitMessageBody = z
  .object({
    to: z.array(Recipient).min(1).max(100),
    cc: z.array(Recipient).max(100).optional(),
    bcc: z.array(Recipient).max(100).optional(),
    replyTo: Recipient.optional(),
    subject: oneLine(998),
    text: z.string().optional(),
    html: z.string().optional(),
    headers: Headers.optional(),
    attachments: z.array(Attachment).max(100).optional(),
    fromName: oneLine(200).optional().describe("Display name; the address is the mailbox's"),
    tracking: z
      .object({
        opens: z.boolean().optional().describe("Add one 1×1 pixel to the HTML"),
        clicks: z.boolean().optional().describe("Send the HTML's http(s) links through /t/c"),
      })
      .strict()
      .optional()
      .describe(
        "Open/click tracking of the HTML part; each field left out takes the mailbox's default (off unless set). Needs PUBLIC_URL",
      ),
  })
  .strict()
  .superRefine((body, context) => {
    if (body.text === undefined && body.html === undefined) {
      context.addIssue({ code: "custom", path: ["text"], message: "give text, html or both" });
    }
  })
  .meta({ id: "SubmitMessage" });
export type SubmitMessageBody = z.infer<typeof SubmitMessageBody>;

export const SubmitHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .regex(/^[ -~]+$/, "must be printable ASCII")
    .optional()
    .describe("Repeat a request safely: the same key and request return the first response"),
});

const Status = z.enum(OUTBOUND_MESSAGE_STATUSES);

export const SubmitResponse = z
  .object({
    id: z.uuid(),
    messageId: z.string().describe("The Message-ID header, <uuid@mailbox-domain>"),
    status: z.literal("queued"),
    recipients: z.array(z.object({ id: z.uuid(), email: z.string(), status: z.literal("queued") })),
  })
  .meta({ id: "SubmitResponse" });
export type SubmitResponse = z.infer<typeof SubmitResponse>;

const timestamp = z.iso.datetime({ offset: true });

const LabelCounts = z.object({
  human: z.number().int(),
  bot: z.number().int(),
  proxy: z.number().int(),
});

const DeliveryReport = z
  .object({
    kind: z
      .enum(DELIVERY_REPORT_KINDS)
      .describe("bounce (5.x.x: the recipient is bounced), soft_bounce, delay or complaint"),
    action: z.string().describe("The DSN Action (failed, delayed) or the ARF Feedback-Type"),
    status: z.string().nullable().describe("RFC 3463 status, e.g. 5.1.1"),
    diagnosticCode: z.string().nullable(),
    reportingMta: z.string().nullable(),
    remoteMta: z.string().nullable(),
    receivedAt: timestamp.describe("When the report was read from the mailbox"),
  })
  .meta({ id: "DeliveryReport" });

export const MessageStatus = z
  .object({
    id: z.uuid(),
    messageId: z.string(),
    subject: z.string(),
    createdAt: timestamp,
    recipients: z.array(
      z.object({
        id: z.uuid(),
        email: z.string(),
        status: Status,
        attempts: z.number().int(),
        nextRetryAt: timestamp.nullable(),
        sentAt: timestamp.nullable(),
        openedAt: timestamp.nullable(),
        clickedAt: timestamp.nullable(),
        error: z
          .object({ code: z.string(), message: z.string() })
          .nullable()
          .describe("The last failure or pause, one line; null when none"),
        smtpReply: z
          .object({
            code: z.number().int(),
            enhancedStatus: z.string().nullable(),
            text: z.string().nullable(),
          })
          .nullable()
          .describe("The server's reply: the final one when sent (its queue id), else the refusal"),
        reports: z
          .array(DeliveryReport)
          .describe("Bounces, delays and complaints read from the mailbox, oldest first"),
        events: z
          .object({ opens: LabelCounts, clicks: LabelCounts })
          .describe("Tracking events by label; only human and proxy ones set openedAt/clickedAt"),
      }),
    ),
  })
  .meta({ id: "MessageStatus" });
export type MessageStatus = z.infer<typeof MessageStatus>;

export const MessageParams = z.object({ id: z.uuid() });

export const ListMessagesQuery = z.object({
  status: Status.optional().describe("Only messages with a recipient in this status"),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional().describe("nextCursor of the previous page"),
});

export const MessageList = z
  .object({
    data: z.array(MessageStatus),
    nextCursor: z.string().nullable().describe("Pass as cursor for the next page; null at the end"),
  })
  .meta({ id: "MessageList" });

export const ListEventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional().describe("nextCursor of the previous page"),
});

export const EventList = z
  .object({
    data: z.array(
      z.object({
        recipientId: z.uuid(),
        email: z.string(),
        kind: z.enum(TRACKING_EVENT_KINDS),
        url: z.string().nullable().describe("The clicked link (as stored); null for opens"),
        occurredAt: timestamp,
        userAgent: z.string().nullable(),
        ipPrefix: z.string().nullable().describe("The client's network: IPv4 /24, IPv6 /48"),
        label: z
          .enum(TRACKING_EVENT_LABELS)
          .describe("human, proxy (image proxies) or bot; bots never set openedAt/clickedAt"),
      }),
    ),
    nextCursor: z.string().nullable().describe("Pass as cursor for the next page; null at the end"),
  })
  .meta({ id: "EventList" });
