import { sql } from "drizzle-orm";
import { scrubErrorText } from "./scrub.ts";
import type { SendRecord } from "./types.ts";

/** A send record as JSON fields for a lease row (`l.*` in the statements); the reply scrubbed. */
export function replyFields(record: SendRecord) {
  return {
    error_code: record.errorCode ?? null,
    reply_code: record.reply?.code ?? null,
    reply_status: record.reply?.enhancedStatus ?? null,
    // A refusal may echo what the client sent; a 2xx reply (queue id) is kept as is.
    reply_text:
      record.reply === undefined
        ? null
        : (record.reply.code >= 400 ? scrubErrorText(record.reply.text) : record.reply.text).slice(
            0,
            1000,
          ),
  };
}

/** The lease row's declaration of those fields. */
export const REPLY_COLUMNS = sql`error_code text, reply_code int, reply_status text, reply_text text`;

/** Writes them: every outcome replaces the last one's code and reply. */
export const SET_REPLY = sql`error_code = l.error_code, smtp_reply_code = l.reply_code,
        smtp_enhanced_status = l.reply_status, smtp_reply = l.reply_text`;
