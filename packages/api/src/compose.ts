import { createHash } from "node:crypto";
import MailComposer from "nodemailer/lib/mail-composer";
import type { Recipient, SubmitMessageBody } from "./schemas/messages.ts";

export interface ComposedMessage {
  raw: Buffer;
  /** to + cc + bcc addresses, each once whatever its case (first spelling kept), in that order. */
  envelopeRecipients: string[];
}

const addressOf = (recipient: Recipient) =>
  typeof recipient === "string" ? recipient : recipient.address;

const toNodemailer = (recipient: Recipient) =>
  typeof recipient === "string"
    ? recipient
    : { name: recipient.name ?? "", address: recipient.address };

export function envelopeRecipients(body: SubmitMessageBody): string[] {
  const seen = new Set<string>();
  const result: string[] = [];
  for (const recipient of [...body.to, ...(body.cc ?? []), ...(body.bcc ?? [])]) {
    const address = addressOf(recipient);
    const folded = address.toLowerCase();
    if (seen.has(folded)) continue;
    seen.add(folded);
    result.push(address);
  }
  return result;
}

/** `<id@domain-of-the-mailbox>` */
export function messageIdHeaderFor(id: string, mailboxEmail: string): string {
  const domain = mailboxEmail.slice(mailboxEmail.lastIndexOf("@") + 1).toLowerCase();
  return `<${id}@${domain}>`;
}

/**
 * Composes the RFC 5322 message once, as every attempt will send it. From is the mailbox's
 * address; Bcc recipients are only in the envelope, never in a header.
 */
export async function composeMessage(
  body: SubmitMessageBody,
  sender: { email: string; messageIdHeader: string; date: Date },
): Promise<ComposedMessage> {
  const composer = new MailComposer({
    from:
      body.fromName === undefined ? sender.email : { name: body.fromName, address: sender.email },
    to: body.to.map(toNodemailer),
    ...(body.cc === undefined ? {} : { cc: body.cc.map(toNodemailer) }),
    ...(body.replyTo === undefined ? {} : { replyTo: toNodemailer(body.replyTo) }),
    subject: body.subject,
    ...(body.text === undefined ? {} : { text: body.text }),
    ...(body.html === undefined ? {} : { html: body.html }),
    ...(body.headers === undefined ? {} : { headers: body.headers }),
    attachments: (body.attachments ?? []).map((attachment) => ({
      filename: attachment.filename,
      contentType: attachment.contentType,
      content: Buffer.from(attachment.content, "base64"),
      ...(attachment.cid === undefined ? {} : { cid: attachment.cid }),
    })),
    messageId: sender.messageIdHeader,
    date: sender.date,
    // Nothing may reach the network while composing.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const built = await new Promise<Buffer>((resolve, reject) =>
    composer.compile().build((error, message) => (error ? reject(error) : resolve(message))),
  );
  return { raw: withCrlf(built), envelopeRecipients: envelopeRecipients(body) };
}

/**
 * Every line break as CRLF. MailComposer passes a 7bit/8bit text body's bare LF or CR through,
 * and nodemailer's DATA stream turns each into CRLF on the wire: stored this way, the bytes
 * sent are the bytes stored (and each attempt sends the same ones).
 */
function withCrlf(raw: Buffer): Buffer {
  const text = raw.toString("latin1");
  return /\r(?!\n)|(?<!\r)\n/.test(text)
    ? Buffer.from(text.replace(/\r\n|\r|\n/g, "\r\n"), "latin1")
    : raw;
}

/** JSON with object keys sorted at every level: the same request always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export const requestSha256 = (body: unknown): Buffer =>
  createHash("sha256").update(canonicalJson(body)).digest();
