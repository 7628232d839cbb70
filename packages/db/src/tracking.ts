import { type SQL, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { rowsOf } from "./rows.ts";
import {
  TRACKING_EVENT_LABELS,
  type TrackingEventKind,
  type TrackingEventLabel,
} from "./schema.ts";
import { withDatabaseErrors } from "./errors.ts";

/*
 * Tracking reads and writes, one statement each. A hit records an event whatever its label;
 * only the first `human` or `proxy` event after `sent_at` sets `opened_at` / `clicked_at`
 * (concurrent first hits: the row lock makes the second see the first's timestamp and skip).
 * Times are the database's, like `sent_at`.
 */

/** What a tracked submission stores besides the message (see `submitMessage`). */
export interface SubmissionTracking {
  opens: boolean;
  clicks: boolean;
  /** The HTML's tracked links in document order; a click token carries the position. */
  links: readonly string[];
  /** Each recipient's own bytes (recipient ids as in the submission); empty when nothing is tracked. */
  bodies: readonly { recipientId: string; raw: Buffer }[];
}

/** The parts of the one submit statement that store a submission's tracking (CTEs after `msg`). */
export function submissionTrackingCtes(tracking: SubmissionTracking | undefined) {
  const links =
    tracking === undefined || tracking.links.length === 0
      ? sql``
      : sql`, tracking_link_rows AS (
          INSERT INTO tracking_links (message_id, position, url)
          SELECT msg.id, l.position, l.url
          FROM msg CROSS JOIN jsonb_to_recordset(${JSON.stringify(
            tracking.links.map((url, position) => ({ position, url })),
          )}::jsonb) AS l(position int, url text))`;
  const bodies =
    tracking === undefined || tracking.bodies.length === 0
      ? sql``
      : sql`, recipient_body_rows AS (
          INSERT INTO recipient_bodies (outbound_message_id, raw, size_bytes)
          SELECT v.id, v.raw, octet_length(v.raw)
          FROM msg CROSS JOIN (VALUES ${sql.join(
            tracking.bodies.map((body) => sql`(${body.recipientId}::uuid, ${body.raw}::bytea)`),
            sql`, `,
          )}) AS v(id, raw))`;
  return sql`${links}${bodies}`;
}

export interface TrackingHit {
  recipientId: string;
  /** The label from the request (user agent, address); the quick-click rule is applied here. */
  label: TrackingEventLabel;
  userAgent: string | undefined;
  /** A network in CIDR form (IPv4 /24, IPv6 /48), or undefined. */
  ipPrefix: string | undefined;
}

export interface ClickHit extends TrackingHit {
  link: number;
  /** A `human` click sooner than this after `sent_at` (or before it is recorded) is a `bot`. */
  quickClickMs: number;
}

/**
 * Records a batch of opens in one statement (the pixel's hits are written after their responses,
 * so they can wait for company). Hits for recipients that do not exist write nothing. Returns
 * how many events were written.
 */
export const recordOpens = withDatabaseErrors(async function recordOpens(
  db: Database,
  hits: readonly TrackingHit[],
): Promise<number> {
  if (hits.length === 0) return 0;
  const rows = JSON.stringify(
    hits.map((hit) => ({
      recipient_id: hit.recipientId,
      user_agent: hit.userAgent ?? null,
      ip_prefix: hit.ipPrefix ?? null,
      label: hit.label,
    })),
  );
  const [row] = rowsOf<{ n: number | string }>(
    await db.execute(sql`
      WITH event AS (
        INSERT INTO tracking_events (outbound_message_id, kind, user_agent, ip_prefix, label)
        SELECT o.id, 'open', h.user_agent, h.ip_prefix, h.label
        FROM jsonb_to_recordset(${rows}::jsonb)
             AS h(recipient_id uuid, user_agent text, ip_prefix cidr, label tracking_event_label)
        JOIN outbound_messages o ON o.id = h.recipient_id
        RETURNING outbound_message_id, occurred_at, label
      ), first_open AS (
        UPDATE outbound_messages o SET opened_at = e.occurred_at
        FROM (SELECT DISTINCT outbound_message_id, occurred_at FROM event
              WHERE label IN ('human', 'proxy')) e
        WHERE o.id = e.outbound_message_id AND o.opened_at IS NULL
          AND o.sent_at IS NOT NULL AND o.sent_at <= e.occurred_at
      )
      SELECT count(*) AS n FROM event`),
  );
  return Number(row?.n ?? 0);
});

/**
 * Records a click and returns the stored link it redirects to, or undefined when the recipient
 * or the link does not exist (nothing is written).
 */
export const recordClick = withDatabaseErrors(async function recordClick(
  db: Database,
  hit: ClickHit,
): Promise<string | undefined> {
  const rows = rowsOf<{ url: string }>(
    await db.execute(sql`
      WITH target AS (
        SELECT o.id, o.sent_at, l.url
        FROM outbound_messages o
        JOIN tracking_links l ON l.message_id = o.message_id AND l.position = ${hit.link}::int
        WHERE o.id = ${hit.recipientId}::uuid
      ), event AS (
        INSERT INTO tracking_events (outbound_message_id, kind, link_position, user_agent, ip_prefix, label)
        SELECT id, 'click', ${hit.link}::int, ${hit.userAgent ?? null}::text, ${hit.ipPrefix ?? null}::cidr,
               CASE WHEN ${hit.label}::text = 'human'
                     AND (sent_at IS NULL OR now() < sent_at + ${hit.quickClickMs}::int * interval '1 millisecond')
                    THEN 'bot'::tracking_event_label ELSE ${hit.label}::tracking_event_label END
        FROM target
        RETURNING outbound_message_id, occurred_at, label
      ), first_click AS (
        UPDATE outbound_messages o SET clicked_at = e.occurred_at
        FROM event e
        WHERE o.id = e.outbound_message_id AND o.clicked_at IS NULL
          AND o.sent_at IS NOT NULL AND o.sent_at <= e.occurred_at
          AND e.label IN ('human', 'proxy')
      )
      SELECT url FROM target`),
  );
  return rows[0]?.url;
});

export type LabelCounts = Record<TrackingEventLabel, number>;

export interface RecipientTrackingCounts {
  opens: LabelCounts;
  clicks: LabelCounts;
}

/**
 * A recipient row's event counts by kind and label as one JSON object, for status queries:
 * `{ opens: { human, proxy, bot }, clicks: { … } }` (an index scan on the recipient's events).
 */
export function recipientEventCountsJson(recipientIdColumn: SQL) {
  const counts = (kind: TrackingEventKind) =>
    sql.raw(
      `json_build_object(${TRACKING_EVENT_LABELS.map(
        (label) =>
          `'${label}', count(*) FILTER (WHERE e.kind = '${kind}' AND e.label = '${label}')`,
      ).join(", ")})`,
    );
  return sql`(SELECT json_build_object('opens', ${counts("open")}, 'clicks', ${counts("click")})
    FROM tracking_events e WHERE e.outbound_message_id = ${recipientIdColumn})`;
}

export interface TrackingEventRow {
  /** A cursor: events are listed in this order. */
  id: number;
  recipientId: string;
  recipientEmail: string;
  kind: TrackingEventKind;
  /** The clicked link (from storage); null for opens. */
  url: string | null;
  occurredAt: Date;
  userAgent: string | null;
  ipPrefix: string | null;
  label: TrackingEventLabel;
}

/**
 * A message's events, oldest first, after the `after` cursor (an event id); undefined when the
 * message is not this mailbox's.
 */
export const listTrackingEvents = withDatabaseErrors(async function listTrackingEvents(
  db: Database,
  mailboxId: string,
  messageId: string,
  page: { limit: number; after?: number },
): Promise<TrackingEventRow[] | undefined> {
  const rows = rowsOf<{
    id: number | string | null;
    recipient_id: string;
    recipient_email: string;
    kind: TrackingEventKind;
    url: string | null;
    occurred_at: Date | string;
    user_agent: string | null;
    ip_prefix: string | null;
    label: TrackingEventLabel;
  }>(
    await db.execute(sql`
      SELECT ev.* FROM messages m
      LEFT JOIN LATERAL (
        SELECT e.id, e.outbound_message_id AS recipient_id, o.recipient_email, e.kind, l.url,
               e.occurred_at, e.user_agent, e.ip_prefix::text AS ip_prefix, e.label
        FROM outbound_messages o
        JOIN tracking_events e ON e.outbound_message_id = o.id
        LEFT JOIN tracking_links l ON l.message_id = o.message_id AND l.position = e.link_position
        WHERE o.message_id = m.id AND e.id > ${page.after ?? 0}::bigint
        ORDER BY e.id
        LIMIT ${page.limit}::int
      ) ev ON true
      WHERE m.id = ${messageId}::uuid AND m.mailbox_id = ${mailboxId}::uuid`),
  );
  if (rows.length === 0) return undefined;
  return rows
    .filter((row) => row.id !== null)
    .map((row) => ({
      id: Number(row.id),
      recipientId: row.recipient_id,
      recipientEmail: row.recipient_email,
      kind: row.kind,
      url: row.url,
      occurredAt: new Date(row.occurred_at),
      userAgent: row.user_agent,
      ipPrefix: row.ip_prefix,
      label: row.label,
    }));
});
