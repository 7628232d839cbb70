import { createHash, randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deleteMailbox, rowsOf } from "../../src/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { expectRejected, mailboxInsert } from "../helpers.ts";

let database: TestDatabase;
let mailboxId: string;
let otherMailboxId: string;

beforeAll(async () => {
  database = await openTestDatabase();
  mailboxId = rowsOf<{ id: string }>(await database.db.execute(mailboxInsert()))[0]!.id;
  otherMailboxId = rowsOf<{ id: string }>(await database.db.execute(mailboxInsert()))[0]!.id;
});
afterAll(async () => {
  await database?.close();
});

function messageInsert(values: Record<string, unknown> = {}) {
  const id = randomUUID();
  const all = {
    id,
    mailbox_id: mailboxId,
    message_id_header: `<${id}@example.com>`,
    envelope_from: "ops@example.com",
    subject: "Hello",
    ...values,
  };
  const entries = Object.entries(all);
  return sql`INSERT INTO messages (${sql.join(
    entries.map(([name]) => sql.identifier(name)),
    sql`, `,
  )}) VALUES (${sql.join(
    entries.map(([, value]) => sql`${value}`),
    sql`, `,
  )}) RETURNING id`;
}

async function newMessage(values: Record<string, unknown> = {}): Promise<string> {
  return rowsOf<{ id: string }>(await database.db.execute(messageInsert(values)))[0]!.id;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

function bodyInsert(
  messageId: string,
  raw: Buffer,
  overrides: { size?: number; sha?: Buffer } = {},
) {
  return sql`INSERT INTO message_bodies (message_id, raw, size_bytes, request_sha256)
    VALUES (${messageId}, ${raw}, ${overrides.size ?? raw.length}, ${overrides.sha ?? sha256("request")})`;
}

function keyInsert(key: string, messageId: string, mailbox = mailboxId) {
  return sql`INSERT INTO idempotency_keys (mailbox_id, key, message_id, response_status, response_body)
    VALUES (${mailbox}, ${key}, ${messageId}, 202, '{}')`;
}

function recipientInsert(messageId: string, email: string, mailbox = mailboxId) {
  return sql`INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
    VALUES (${mailbox}, ${messageId}, ${email}, 'Hello')`;
}

describe("messages", () => {
  test("a valid message is stored; the database refuses bad headers and subjects", async () => {
    const { db } = database;
    await newMessage();
    expect(await expectRejected(db, messageInsert({ message_id_header: "no-brackets@x" }))).toBe(
      "23514",
    );
    expect(await expectRejected(db, messageInsert({ message_id_header: "<no-domain>" }))).toBe(
      "23514",
    );
    expect(await expectRejected(db, messageInsert({ subject: "Hi\r\nBcc: x@y.z" }))).toBe("23514");
    expect(await expectRejected(db, messageInsert({ subject: "Hi\nthere" }))).toBe("23514");
    expect(await expectRejected(db, messageInsert({ subject: "x".repeat(999) }))).toBe("23514");
    await newMessage({ subject: "x".repeat(998) });
    expect(await expectRejected(db, messageInsert({ envelope_from: " " }))).toBe("23514");
    expect(
      await expectRejected(
        db,
        messageInsert({ mailbox_id: "00000000-0000-4000-8000-000000000000" }),
      ),
    ).toBe("23503");
    // Message-IDs are unique.
    const id = await newMessage();
    expect(
      await expectRejected(db, messageInsert({ message_id_header: `<${id}@example.com>` })),
    ).toBe("23505");
  });

  test("a body is stored once: size and hash checked, never updated, gone with its message", async () => {
    const { db } = database;
    const id = await newMessage();
    const raw = Buffer.from("Subject: Hello\r\n\r\nBody\r\n");
    expect(await expectRejected(db, bodyInsert(id, raw, { size: raw.length + 1 }))).toBe("23514");
    expect(await expectRejected(db, bodyInsert(id, raw, { sha: Buffer.alloc(31) }))).toBe("23514");
    expect(await expectRejected(db, bodyInsert(id, Buffer.alloc(0)))).toBe("23514");
    await db.execute(bodyInsert(id, raw));
    const [stored] = rowsOf<{ raw: Uint8Array; size_bytes: number }>(
      await db.execute(sql`SELECT raw, size_bytes FROM message_bodies WHERE message_id = ${id}`),
    );
    expect(Buffer.from(stored!.raw).equals(raw)).toBe(true);
    expect(stored!.size_bytes).toBe(raw.length);
    expect(
      await expectRejected(
        db,
        sql`UPDATE message_bodies SET raw = ${Buffer.from("other")}, size_bytes = 5 WHERE message_id = ${id}`,
      ),
    ).toBe("23514");
    await db.execute(sql`DELETE FROM messages WHERE id = ${id}`);
    const [left] = rowsOf<{ n: number }>(
      await db.execute(sql`SELECT count(*)::int AS n FROM message_bodies WHERE message_id = ${id}`),
    );
    expect(left!.n).toBe(0);
  });

  test("idempotency keys: printable ASCII 1–255, one per mailbox, only for the mailbox's own message", async () => {
    const { db } = database;
    const id = await newMessage();
    await db.execute(keyInsert("order-1", id));
    expect(await expectRejected(db, keyInsert("order-1", id))).toBe("23505");
    expect(await expectRejected(db, keyInsert("", id))).toBe("23514");
    expect(await expectRejected(db, keyInsert("k".repeat(256), id))).toBe("23514");
    expect(await expectRejected(db, keyInsert("tab\there", id))).toBe("23514");
    expect(await expectRejected(db, keyInsert("naïve", id))).toBe("23514");
    await db.execute(keyInsert("k".repeat(255), id));
    // Another mailbox cannot point a key at this mailbox's message.
    expect(await expectRejected(db, keyInsert("order-2", id, otherMailboxId))).toBe("23503");
  });

  test("recipients: one row per address per message whatever the case, same mailbox as the message", async () => {
    const { db } = database;
    const id = await newMessage();
    await db.execute(recipientInsert(id, "Ann@Example.com"));
    expect(await expectRejected(db, recipientInsert(id, "ann@example.COM"))).toBe("23505");
    await db.execute(recipientInsert(id, "bob@example.com"));
    expect(await expectRejected(db, recipientInsert(id, "carl@example.com", otherMailboxId))).toBe(
      "23503",
    );
    // A message with recipients is never dropped by the database on its own.
    expect(["23001", "23503"]).toContain(
      await expectRejected(db, sql`DELETE FROM messages WHERE id = ${id}`),
    );
  });

  test("deleting a mailbox removes its finished messages with their bodies and keys", async () => {
    const { db } = database;
    const mailbox = rowsOf<{ id: string }>(await db.execute(mailboxInsert()))[0]!.id;
    const id = await newMessage({ mailbox_id: mailbox });
    await db.execute(bodyInsert(id, Buffer.from("x")));
    await db.execute(keyInsert("k1", id, mailbox));
    // Born queued, then claimed and failed (the only way a row becomes failed).
    await db.execute(sql`INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
      VALUES (${mailbox}, ${id}, 'a@example.com', 'Hello')`);
    await db.execute(sql`UPDATE outbound_messages SET status = 'processing', attempts = 1,
      processing_started_at = now(), lease_renewed_at = now(), lease_owner = 't'
      WHERE message_id = ${id}`);
    await db.execute(sql`UPDATE outbound_messages SET status = 'failed',
      processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
      WHERE message_id = ${id}`);
    const result = await deleteMailbox(db, mailbox);
    expect(result.finishedMessagesDeleted).toBe(1);
    const [counts] = rowsOf<{ messages: number; bodies: number; keys: number }>(
      await db.execute(sql`SELECT
        (SELECT count(*)::int FROM messages WHERE id = ${id}) AS messages,
        (SELECT count(*)::int FROM message_bodies WHERE message_id = ${id}) AS bodies,
        (SELECT count(*)::int FROM idempotency_keys WHERE mailbox_id = ${mailbox}) AS keys`),
    );
    expect(counts).toEqual({ messages: 0, bodies: 0, keys: 0 });
  });
});
