import { sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { rowsOf } from "./rows.ts";
import type { TrackingEventKind, TrackingEventLabel } from "./schema.ts";

/*
 * Tracking reads and writes, one statement each. A hit records an event whatever its label;
 * only the first `human` or `proxy` event after `sent_at` sets `opened_at` / `clicked_at`
 * (concurrent first hits: the row lock makes the second see the first's timestamp and skip).
 * Times are the database's, like `sent_at`.
 */

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

/** Records an open; false when no such recipient exists (nothing is written). */
export async function recordOpen(db: Database, hit: TrackingHit): Promise<boolean> {
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      WITH event AS (
        INSERT INTO tracking_events (outbound_message_id, kind, user_agent, ip_prefix, label)
        SELECT id, 'open', ${hit.userAgent ?? null}::text, ${hit.ipPrefix ?? null}::cidr,
               ${hit.label}::tracking_event_label
        FROM outbound_messages WHERE id = ${hit.recipientId}::uuid
        RETURNING outbound_message_id, occurred_at, label
      ), first_open AS (
        UPDATE outbound_messages o SET opened_at = e.occurred_at
        FROM event e
        WHERE o.id = e.outbound_message_id AND o.opened_at IS NULL
          AND o.sent_at IS NOT NULL AND o.sent_at <= e.occurred_at
          AND e.label IN ('human', 'proxy')
      )
      SELECT outbound_message_id AS id FROM event`),
  );
  return rows.length > 0;
}

/**
 * Records a click and returns the stored link it redirects to, or undefined when the recipient
 * or the link does not exist (nothing is written).
 */
export async function recordClick(db: Database, hit: ClickHit): Promise<string | undefined> {
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
}

export type LabelCounts = Record<TrackingEventLabel, number>;

export interface RecipientTrackingCounts {
  opens: LabelCounts;
  clicks: LabelCounts;
}

export function emptyTrackingCounts(): RecipientTrackingCounts {
  return { opens: { human: 0, bot: 0, proxy: 0 }, clicks: { human: 0, bot: 0, proxy: 0 } };
}

/** Event counts by kind and label for each recipient of a message (absent = no events). */
export async function trackingCounts(
  db: Database,
  messageId: string,
): Promise<Map<string, RecipientTrackingCounts>> {
  const rows = rowsOf<{
    id: string;
    kind: TrackingEventKind;
    label: TrackingEventLabel;
    n: number | string;
  }>(
    await db.execute(sql`
      SELECT e.outbound_message_id AS id, e.kind, e.label, count(*) AS n
      FROM outbound_messages o
      JOIN tracking_events e ON e.outbound_message_id = o.id
      WHERE o.message_id = ${messageId}::uuid
      GROUP BY 1, 2, 3`),
  );
  const counts = new Map<string, RecipientTrackingCounts>();
  for (const row of rows) {
    const entry = counts.get(row.id) ?? emptyTrackingCounts();
    entry[row.kind === "open" ? "opens" : "clicks"][row.label] = Number(row.n);
    counts.set(row.id, entry);
  }
  return counts;
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

/** A message's events, oldest first, after the `after` cursor (an event id). */
export async function listTrackingEvents(
  db: Database,
  messageId: string,
  page: { limit: number; after?: number },
): Promise<TrackingEventRow[]> {
  const rows = rowsOf<{
    id: number | string;
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
      SELECT e.id, e.outbound_message_id AS recipient_id, o.recipient_email, e.kind, l.url,
             e.occurred_at, e.user_agent, e.ip_prefix::text AS ip_prefix, e.label
      FROM outbound_messages o
      JOIN tracking_events e ON e.outbound_message_id = o.id
      LEFT JOIN tracking_links l ON l.message_id = o.message_id AND l.position = e.link_position
      WHERE o.message_id = ${messageId}::uuid AND e.id > ${page.after ?? 0}::bigint
      ORDER BY e.id
      LIMIT ${page.limit}::int`),
  );
  return rows.map((row) => ({
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
}
