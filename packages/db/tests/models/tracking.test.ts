import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  deleteMailbox,
  listTrackingEvents,
  recordClick,
  recordOpens,
  rowsOf,
  recipientEventCountsJson,
} from "../../src/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { expectRejected, mailboxInsert } from "../helpers.ts";

let database: TestDatabase;
let mailboxId: string;

const CHECK_VIOLATION = "23514";
const QUICK = 2000;
const HUMAN = {
  label: "human",
  userAgent: "Mozilla/5.0 (X11) Firefox/130.0",
  ipPrefix: "198.51.100.0/24",
} as const;

beforeAll(async () => {
  database = await openTestDatabase();
  mailboxId = rowsOf<{ id: string }>(await database.db.execute(mailboxInsert()))[0]!.id;
});
afterAll(async () => {
  await database?.close();
});

async function one<T>(query: ReturnType<typeof sql>): Promise<T> {
  return rowsOf<T>(await database.db.execute(query))[0]!;
}

/** A message with its links and one recipient row per address. */
async function trackedMessage(links: string[], recipients = ["reader@example.net"]) {
  const messageId = randomUUID();
  await database.db.execute(sql`
    INSERT INTO messages (id, mailbox_id, message_id_header, envelope_from, subject, track_opens, track_clicks)
    VALUES (${messageId}, ${mailboxId}, ${`<${messageId}@example.com>`}, 'ops@example.com', 'Hi', true, true)`);
  for (const [position, url] of links.entries()) {
    await database.db.execute(
      sql`INSERT INTO tracking_links (message_id, position, url) VALUES (${messageId}, ${position}, ${url})`,
    );
  }
  const ids: string[] = [];
  for (const email of recipients) {
    ids.push(
      (
        await one<{ id: string }>(sql`
          INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
          VALUES (${mailboxId}, ${messageId}, ${email}, 'Hi') RETURNING id`)
      ).id,
    );
  }
  return { messageId, recipientIds: ids };
}

/** queued → processing → sent, with `sent_at` that many milliseconds ago. */
async function markSent(recipientId: string, agoMs: number) {
  await database.db.execute(sql`
    UPDATE outbound_messages SET status = 'processing', attempts = 1, processing_started_at = now(), lease_renewed_at = now(), lease_owner = 't'
    WHERE id = ${recipientId}`);
  await database.db.execute(sql`
    UPDATE outbound_messages SET status = 'sent', processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL,
      sent_at = now() - ${agoMs}::int * interval '1 millisecond'
    WHERE id = ${recipientId}`);
}

async function stamps(recipientId: string) {
  return one<{ opened_at: Date | null; clicked_at: Date | null }>(
    sql`SELECT opened_at, clicked_at FROM outbound_messages WHERE id = ${recipientId}`,
  );
}

/** The recipient's event counts as status reads show them. */
async function eventsOf(recipientId: string) {
  const row = await one<{ events: unknown }>(
    sql`SELECT ${recipientEventCountsJson(sql`${recipientId}::uuid`)} AS events`,
  );
  return (typeof row.events === "string" ? JSON.parse(row.events) : row.events) as {
    opens: Record<string, number>;
    clicks: Record<string, number>;
  };
}

async function eventCount(): Promise<number> {
  return Number(
    (await one<{ n: number | string }>(sql`SELECT count(*) AS n FROM tracking_events`)).n,
  );
}

describe("tracking schema", () => {
  test("holds its invariants for every writer", async () => {
    const { messageId, recipientIds } = await trackedMessage(["https://example.com/a"]);
    const recipientId = recipientIds[0]!;
    const db = database.db;
    // Links: http(s) only, one line, positions a token can carry; never changed.
    for (const url of [
      "javascript:alert(1)",
      "https://example.com/\r\nSet-Cookie: x",
      "//example.com",
    ]) {
      expect(
        await expectRejected(db, sql`INSERT INTO tracking_links VALUES (${messageId}, 1, ${url})`),
      ).toBe(CHECK_VIOLATION);
    }
    expect(
      await expectRejected(
        db,
        sql`INSERT INTO tracking_links VALUES (${messageId}, 65536, 'https://x.example/')`,
      ),
    ).toBe(CHECK_VIOLATION);
    expect(
      await expectRejected(
        db,
        sql`UPDATE tracking_links SET url = 'https://evil.example/' WHERE message_id = ${messageId}`,
      ),
    ).toBe(CHECK_VIOLATION);
    // Recipient bodies: size matches, never changed.
    const raw = Buffer.from("Subject: x\r\n\r\ntracked\r\n");
    expect(
      await expectRejected(
        db,
        sql`INSERT INTO recipient_bodies VALUES (${recipientId}, ${raw}, 1)`,
      ),
    ).toBe(CHECK_VIOLATION);
    await db.execute(
      sql`INSERT INTO recipient_bodies VALUES (${recipientId}, ${raw}, ${raw.length})`,
    );
    expect(
      await expectRejected(
        db,
        sql`UPDATE recipient_bodies SET raw = ${Buffer.from("x")}, size_bytes = 1`,
      ),
    ).toBe(CHECK_VIOLATION);
    // Events: a click names its link, an open does not; networks only; never changed.
    expect(
      await expectRejected(
        db,
        sql`INSERT INTO tracking_events (outbound_message_id, kind, label) VALUES (${recipientId}, 'click', 'human')`,
      ),
    ).toBe(CHECK_VIOLATION);
    expect(
      await expectRejected(
        db,
        sql`INSERT INTO tracking_events (outbound_message_id, kind, link_position, label) VALUES (${recipientId}, 'open', 0, 'human')`,
      ),
    ).toBe(CHECK_VIOLATION);
    for (const prefix of ["198.51.100.23/32", "2001:db8::/64"]) {
      expect(
        await expectRejected(
          db,
          sql`INSERT INTO tracking_events (outbound_message_id, kind, label, ip_prefix) VALUES (${recipientId}, 'open', 'human', ${prefix}::cidr)`,
        ),
      ).toBe(CHECK_VIOLATION);
    }
    expect(
      await expectRejected(
        db,
        sql`INSERT INTO tracking_events (outbound_message_id, kind, label, user_agent) VALUES (${recipientId}, 'open', 'human', ${"x".repeat(513)})`,
      ),
    ).toBe(CHECK_VIOLATION);
    await db.execute(
      sql`INSERT INTO tracking_events (outbound_message_id, kind, label) VALUES (${recipientId}, 'open', 'bot')`,
    );
    expect(
      await expectRejected(
        db,
        sql`UPDATE tracking_events SET label = 'human' WHERE outbound_message_id = ${recipientId}`,
      ),
    ).toBe(CHECK_VIOLATION);
    // Mailbox defaults: off.
    const defaults = await one<{ track_opens: boolean; track_clicks: boolean }>(
      sql`SELECT track_opens, track_clicks FROM mailboxes WHERE id = ${mailboxId}`,
    );
    expect(defaults).toEqual({ track_opens: false, track_clicks: false });
  });
});

describe("recordOpens", () => {
  test("records every hit; only a human or proxy hit after sent_at sets opened_at, once", async () => {
    const { recipientIds } = await trackedMessage([]);
    const recipientId = recipientIds[0]!;
    expect(await recordOpens(database.db, [{ ...HUMAN, recipientId }])).toBe(1);
    expect((await stamps(recipientId)).opened_at).toBeNull(); // not sent yet
    await markSent(recipientId, 10_000);
    await recordOpens(database.db, [{ ...HUMAN, label: "bot", recipientId }]);
    expect((await stamps(recipientId)).opened_at).toBeNull(); // bots never set it
    await recordOpens(database.db, [{ ...HUMAN, label: "proxy", recipientId }]);
    const first = (await stamps(recipientId)).opened_at;
    expect(first).not.toBeNull();
    await recordOpens(database.db, [{ ...HUMAN, recipientId }]);
    expect((await stamps(recipientId)).opened_at).toEqual(first);
    expect(await eventsOf(recipientId)).toEqual({
      opens: { human: 2, bot: 1, proxy: 1 },
      clicks: { human: 0, bot: 0, proxy: 0 },
    });
  });

  test("writes a batch in one statement: one first open per recipient, unknown recipients skipped", async () => {
    const { recipientIds } = await trackedMessage([], ["x@example.net", "y@example.net"]);
    const [x, y] = recipientIds as [string, string];
    await markSent(x, 10_000);
    await markSent(y, 10_000);
    const written = await recordOpens(database.db, [
      { ...HUMAN, recipientId: x },
      { ...HUMAN, recipientId: x },
      { ...HUMAN, label: "bot", recipientId: y },
      { ...HUMAN, recipientId: randomUUID() },
    ]);
    expect(written).toBe(3);
    expect((await stamps(x)).opened_at).not.toBeNull();
    expect((await stamps(y)).opened_at).toBeNull();
    expect([(await eventsOf(x)).opens, (await eventsOf(y)).opens]).toEqual([
      { human: 2, proxy: 0, bot: 0 },
      { human: 0, proxy: 0, bot: 1 },
    ]);
  });

  test("writes nothing for a recipient that does not exist", async () => {
    const before = await eventCount();
    expect(await recordOpens(database.db, [{ ...HUMAN, recipientId: randomUUID() }])).toBe(0);
    expect(await eventCount()).toBe(before);
  });
});

describe("recordClick", () => {
  test("returns exactly the stored link and sets clicked_at for a human after the quick window", async () => {
    const url = "https://example.com/landing?utm=a&b=%20c#top";
    const { messageId, recipientIds } = await trackedMessage(["https://example.com/first", url]);
    const recipientId = recipientIds[0]!;
    await markSent(recipientId, 60_000);
    expect(
      await recordClick(database.db, { ...HUMAN, recipientId, link: 1, quickClickMs: QUICK }),
    ).toBe(url);
    expect((await stamps(recipientId)).clicked_at).not.toBeNull();
    const [event] = (await listTrackingEvents(database.db, mailboxId, messageId, { limit: 10 }))!;
    expect(event).toMatchObject({
      recipientId,
      kind: "click",
      url,
      label: "human",
      ipPrefix: "198.51.100.0/24",
      userAgent: HUMAN.userAgent,
    });
  });

  test("labels a human click within the quick window (or before sent_at) a bot, which sets nothing", async () => {
    const { messageId, recipientIds } = await trackedMessage(
      ["https://example.com/a"],
      ["a@example.net", "b@example.net"],
    );
    const [early, unsent] = recipientIds as [string, string];
    await markSent(early, 0);
    expect(
      await recordClick(database.db, {
        ...HUMAN,
        recipientId: early,
        link: 0,
        quickClickMs: QUICK,
      }),
    ).toBe("https://example.com/a");
    expect(
      await recordClick(database.db, {
        ...HUMAN,
        recipientId: unsent,
        link: 0,
        quickClickMs: QUICK,
      }),
    ).toBe("https://example.com/a");
    expect((await stamps(early)).clicked_at).toBeNull();
    expect((await stamps(unsent)).clicked_at).toBeNull();
    const events = (await listTrackingEvents(database.db, mailboxId, messageId, { limit: 10 }))!;
    expect(events.map((event) => [event.recipientEmail, event.label])).toEqual([
      ["a@example.net", "bot"],
      ["b@example.net", "bot"],
    ]);
    // Paging: after the first event's id comes the second.
    expect(
      (await listTrackingEvents(database.db, mailboxId, messageId, {
        limit: 10,
        after: events[0]!.id,
      }))!.map((e) => e.recipientId),
    ).toEqual([unsent]);
  });

  test("writes nothing and returns nothing for a link or recipient that does not exist", async () => {
    const { recipientIds } = await trackedMessage(["https://example.com/a"]);
    const before = await eventCount();
    expect(
      await recordClick(database.db, {
        ...HUMAN,
        recipientId: recipientIds[0]!,
        link: 1,
        quickClickMs: QUICK,
      }),
    ).toBeUndefined();
    expect(
      await recordClick(database.db, {
        ...HUMAN,
        recipientId: randomUUID(),
        link: 0,
        quickClickMs: QUICK,
      }),
    ).toBeUndefined();
    expect(await eventCount()).toBe(before);
  });
});

test("events are listed only for the mailbox's own message", async () => {
  const { messageId } = await trackedMessage([]);
  expect(await listTrackingEvents(database.db, mailboxId, messageId, { limit: 10 })).toEqual([]);
  expect(
    await listTrackingEvents(database.db, randomUUID(), messageId, { limit: 10 }),
  ).toBeUndefined();
  expect(
    await listTrackingEvents(database.db, mailboxId, randomUUID(), { limit: 10 }),
  ).toBeUndefined();
});

test("deleting a mailbox takes its tracking rows with it", async () => {
  const other = rowsOf<{ id: string }>(await database.db.execute(mailboxInsert()))[0]!.id;
  const messageId = randomUUID();
  await database.db.execute(sql`
    INSERT INTO messages (id, mailbox_id, message_id_header, envelope_from, subject)
    VALUES (${messageId}, ${other}, ${`<${messageId}@example.com>`}, 'ops@example.com', 'Hi')`);
  await database.db.execute(
    sql`INSERT INTO tracking_links VALUES (${messageId}, 0, 'https://example.com/')`,
  );
  const { id } = await one<{ id: string }>(sql`
    INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
    VALUES (${other}, ${messageId}, 'r@example.net', 'Hi') RETURNING id`);
  await markSent(id, 5000);
  await database.db.execute(
    sql`INSERT INTO recipient_bodies VALUES (${id}, ${Buffer.from("x")}, 1)`,
  );
  await recordClick(database.db, { ...HUMAN, recipientId: id, link: 0, quickClickMs: QUICK });
  await deleteMailbox(database.db, other);
  const left = await one<{ n: number | string }>(sql`
    SELECT (SELECT count(*) FROM tracking_links WHERE message_id = ${messageId})
         + (SELECT count(*) FROM recipient_bodies WHERE outbound_message_id = ${id})
         + (SELECT count(*) FROM tracking_events WHERE outbound_message_id = ${id}) AS n`);
  expect(Number(left.n)).toBe(0);
});
