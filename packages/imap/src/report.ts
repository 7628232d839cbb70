import { finished } from "node:stream/promises";
import { Headers, type MimeNode, Splitter, type SplitterChunk } from "@zone-eu/mailsplit";

/**
 * What one recipient's DSN entry means for us:
 * - `bounce`: `Action: failed` with a permanent (5.x.x) status: the recipient is `bounced`.
 * - `soft_bounce`: `Action: failed` with a transient (4.x.x) or missing status: recorded only.
 * - `delay`: `Action: delayed`: recorded only; the server is still trying.
 * `delivered`, `relayed` and `expanded` entries are not failures and are left out.
 */
export type RecipientOutcome = "bounce" | "soft_bounce" | "delay";

export interface RecipientReport {
  outcome: RecipientOutcome;
  /** From `Final-Recipient` (the address part of `rfc822; a@b`). */
  finalRecipient: string | undefined;
  /** From `Original-Recipient`, when present. */
  originalRecipient: string | undefined;
  action: string;
  /** RFC 3463 enhanced status, e.g. `5.1.1`. */
  status: string | undefined;
  /** The remote server's reply, e.g. `550 5.1.1 <x@y>: Recipient address rejected`. */
  diagnosticCode: string | undefined;
  remoteMta: string | undefined;
}

export interface DeliveryStatusReport {
  kind: "delivery_status";
  reportingMta: string | undefined;
  /** The Message-ID of the message the report is about (from the returned message or headers). */
  originalMessageId: string | undefined;
  recipients: RecipientReport[];
}

export interface ComplaintReport {
  kind: "complaint";
  /** RFC 5965 Feedback-Type, e.g. `abuse`. */
  feedbackType: string;
  userAgent: string | undefined;
  originalMessageId: string | undefined;
  /** From `Original-Rcpt-To`, when present. */
  originalRecipient: string | undefined;
}

export type MailReport = DeliveryStatusReport | ComplaintReport;

/** `Name: value` fields of one block, unfolded; names lower-cased; the first of each name wins. */
function parseFieldBlock(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  const unfolded = text.replace(/\r?\n[ \t]+/g, " ");
  for (const line of unfolded.split(/\r?\n/)) {
    const match = /^([A-Za-z0-9-]+)\s*:\s*(.*)$/.exec(line);
    if (!match) continue;
    const name = match[1]!.toLowerCase();
    if (!fields.has(name)) fields.set(name, match[2]!.replace(/\s+/g, " ").trim());
  }
  return fields;
}

/** Blocks separated by blank lines (RFC 3464 §2.1: per-message fields, then one per recipient). */
function fieldBlocks(text: string): Map<string, string>[] {
  return text
    .replace(/\r\n/g, "\n")
    .split(/\n[ \t]*\n/)
    .map(parseFieldBlock)
    .filter((block) => block.size > 0);
}

/** `rfc822; <a@b>` → `a@b`. */
function addressOf(typed: string | undefined): string | undefined {
  if (!typed) return undefined;
  const value = typed.includes(";") ? typed.slice(typed.indexOf(";") + 1) : typed;
  const address = value
    .trim()
    .replace(/^<(.*)>$/, "$1")
    .trim();
  return address || undefined;
}

/** `smtp; 550 5.1.1 ...` → `550 5.1.1 ...`. */
function withoutType(typed: string | undefined): string | undefined {
  if (!typed) return undefined;
  const value = /^[A-Za-z0-9-]+\s*;/.test(typed) ? typed.slice(typed.indexOf(";") + 1) : typed;
  return value.trim() || undefined;
}

function enhancedStatus(value: string | undefined): string | undefined {
  return value ? /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(value)?.[1] : undefined;
}

function outcomeOf(action: string, status: string | undefined): RecipientOutcome | undefined {
  if (action === "delayed") return "delay";
  if (action === "failed") return status?.startsWith("5.") ? "bounce" : "soft_bounce";
  return undefined;
}

/** The header section of a returned message (or a text/rfc822-headers part). */
function headerSection(raw: string): string {
  const normalized = raw.replace(/\r\n/g, "\n");
  const end = normalized.search(/\n[ \t]*\n/);
  return end === -1 ? normalized : normalized.slice(0, end);
}

function messageIdOf(value: string | undefined): string | undefined {
  return value ? /<[^<>\s]+>/.exec(value)?.[0] : undefined;
}

const EMBEDDED_MESSAGE_TYPES = new Set(["message/rfc822", "message/global"]);
const RETURNED_HEADERS_TYPES = new Set(["text/rfc822-headers", "message/global-headers"]);
const STATUS_TYPES = new Set(["message/delivery-status", "message/global-delivery-status"]);
const FEEDBACK_TYPE = "message/feedback-report";
/** Parts whose decoded text we keep; everything else (bodies, attachments) is skipped. */
const KEPT_TYPES = new Set([
  ...RETURNED_HEADERS_TYPES,
  ...STATUS_TYPES,
  FEEDBACK_TYPE,
  // Only reached as a body when the splitter did not descend (e.g. an attached, encoded message).
  ...EMBEDDED_MESSAGE_TYPES,
]);
/** The header section is all we read of a returned message. */
const MAX_KEPT_BYTES = 256 * 1024;

interface MimeWalk {
  /** The top-level Content-Type header (raw). */
  contentType: string;
  /** Decoded text of the status, feedback and returned-headers parts, in order. */
  parts: { contentType: string; text: string }[];
  /** Message-IDs of embedded (message/rfc822) messages, outermost first. */
  embeddedMessageIds: string[];
}

async function decode(node: MimeNode, chunks: Buffer[]): Promise<string> {
  const decoder = node.getDecoder();
  const out: Buffer[] = [];
  decoder.on("data", (chunk: Buffer) => out.push(chunk));
  const done = new Promise((resolve, reject) => decoder.on("end", resolve).on("error", reject));
  for (const chunk of chunks) decoder.write(chunk);
  decoder.end();
  await done;
  return Buffer.concat(out).toString("utf8");
}

/**
 * One pass over the MIME tree with mailparser's own splitter. (mailparser's simpleParser
 * flattens embedded messages: a returned message/rfc822 loses its headers and a
 * text/rfc822-headers part is merged into the text, so the original's Message-ID is lost.)
 */
async function walk(raw: Buffer | string): Promise<MimeWalk> {
  // Descend into returned messages unless they are explicitly attachments.
  const splitter = new Splitter({ defaultInlineEmbedded: true });
  const result: MimeWalk = { contentType: "", parts: [], embeddedMessageIds: [] };
  const kept = new Map<MimeNode, Buffer[]>();
  splitter.on("data", (chunk: SplitterChunk) => {
    if ("type" in chunk && chunk.type === "node") {
      const node = chunk;
      const headers = node.headers || undefined;
      if (node.root) result.contentType = headers?.getFirst("content-type") ?? "";
      if (node.parentNode && EMBEDDED_MESSAGE_TYPES.has(String(node.parentNode.contentType))) {
        const id = messageIdOf(headers?.getFirst("message-id"));
        if (id) result.embeddedMessageIds.push(id);
      }
      if (KEPT_TYPES.has(String(node.contentType))) kept.set(node, []);
    } else if ("type" in chunk && chunk.type === "body") {
      const { node, value } = chunk;
      const chunks = kept.get(node);
      if (chunks && value?.length && chunks.reduce((n, c) => n + c.length, 0) < MAX_KEPT_BYTES)
        chunks.push(value);
    }
  });
  splitter.end(typeof raw === "string" ? Buffer.from(raw, "utf8") : raw);
  await finished(splitter);
  for (const [node, chunks] of kept) {
    result.parts.push({ contentType: String(node.contentType), text: await decode(node, chunks) });
  }
  return result;
}

/** Message-ID of the returned original: an embedded message's header, else returned headers. */
function returnedMessageId(mime: MimeWalk): string | undefined {
  if (mime.embeddedMessageIds[0]) return mime.embeddedMessageIds[0];
  for (const part of mime.parts) {
    if (
      !RETURNED_HEADERS_TYPES.has(part.contentType) &&
      !EMBEDDED_MESSAGE_TYPES.has(part.contentType)
    )
      continue;
    const id = messageIdOf(parseFieldBlock(headerSection(part.text)).get("message-id"));
    if (id) return id;
  }
  return undefined;
}

/** `multipart/report; report-type=delivery-status` → `delivery-status`. */
function reportType(contentType: string): string | undefined {
  const parsed = new Headers(`Content-Type: ${contentType}\r\n`).getFirst("content-type");
  const value = /^\s*([^;\s]+)/.exec(parsed)?.[1]?.toLowerCase();
  if (value !== "multipart/report") return undefined;
  return /(?:^|;)\s*report-type\s*=\s*"?([A-Za-z0-9-]+)"?/i.exec(parsed)?.[1]?.toLowerCase();
}

/**
 * Parses an RFC 3464 delivery status notification or an RFC 5965 (ARF) complaint. Anything else
 * (ordinary mail, non-standard bounces written as prose) returns `undefined`: it is not ours to
 * interpret.
 */
export async function parseMailReport(raw: Buffer | string): Promise<MailReport | undefined> {
  const mime = await walk(raw);
  const type = reportType(mime.contentType);
  const originalMessageId = returnedMessageId(mime);

  if (type === "delivery-status") {
    const status = mime.parts.find((part) => STATUS_TYPES.has(part.contentType));
    if (!status) return undefined;
    const blocks = fieldBlocks(status.text);
    const reportingMta = withoutType(
      blocks.find((b) => b.has("reporting-mta"))?.get("reporting-mta"),
    );
    const recipients: RecipientReport[] = [];
    for (const block of blocks) {
      if (
        !block.has("action") ||
        !(block.has("final-recipient") || block.has("original-recipient"))
      )
        continue;
      const action = block.get("action")!.toLowerCase().split(/\s/)[0]!;
      const status = enhancedStatus(block.get("status"));
      const outcome = outcomeOf(action, status);
      if (!outcome) continue;
      recipients.push({
        outcome,
        finalRecipient: addressOf(block.get("final-recipient")),
        originalRecipient: addressOf(block.get("original-recipient")),
        action,
        status,
        diagnosticCode: withoutType(block.get("diagnostic-code"))?.slice(0, 1000),
        remoteMta: withoutType(block.get("remote-mta")),
      });
    }
    return { kind: "delivery_status", reportingMta, originalMessageId, recipients };
  }

  if (type === "feedback-report") {
    const feedback = mime.parts.find((part) => part.contentType === FEEDBACK_TYPE);
    if (!feedback) return undefined;
    const fields = parseFieldBlock(feedback.text);
    return {
      kind: "complaint",
      feedbackType: (fields.get("feedback-type") ?? "other").toLowerCase(),
      userAgent: fields.get("user-agent"),
      originalMessageId,
      originalRecipient: addressOf(fields.get("original-rcpt-to")),
    };
  }
  return undefined;
}
