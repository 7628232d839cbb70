import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  claimSentCopies,
  markSentCopied,
  markSentCopyFailed,
  markSentCopySkipped,
  readCheckpoint,
  recordDeliveryReport,
  recoverStaleSentCopies,
  saveCheckpoint,
} from "../../src/imap/index.ts";
import { rowsOf } from "../../src/index.ts";
import { claim, enqueue, markBounced, markSent, markSentMany } from "../../src/queue/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { expectRejected, mailboxInsert } from "../helpers.ts";

let database: TestDatabase;
let mailboxId: string;

beforeAll(async () => {
  database = await openTestDatabase();
  mailboxId = rowsOf<{ id: string }>(await database.db.execute(mailboxInsert()))[0]!.id;
});
afterAll(async () => {
  await database?.close();
});

/** A message with recipients, all queued. */
async function newMessage(recipients: string[]) {
  const id = randomUUID();
  const header = `<${id}@example.com>`;
  await database.db.execute(sql`
    INSERT INTO messages (id, mailbox_id, message_id_header, envelope_from, subject)
    VALUES (${id}, ${mailboxId}, ${header}, 'ops@example.com', 'Hello')`);
  for (const email of recipients) {
    await database.db.execute(sql`
      INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
      VALUES (${mailboxId}, ${id}, ${email}, 'Hello')`);
  }
  return { id, header };
}

async function sendAll() {
  for (const lease of await claim(database.db, { limit: 100, owner: "test" }))
    await markSent(database.db, lease.lease);
}

const state = async (id: string) =>
  rowsOf<{ sent_copy_state: string | null; sent_copy_error: string | null }>(
    await database.db.execute(
      sql`SELECT sent_copy_state, sent_copy_error FROM messages WHERE id = ${id}`,
    ),
  )[0]!;

const statuses = async (id: string) =>
  Object.fromEntries(
    rowsOf<{ recipient_email: string; status: string }>(
      await database.db.execute(
        sql`SELECT recipient_email, status FROM outbound_messages WHERE message_id = ${id}`,
      ),
    ).map((r) => [r.recipient_email, r.status]),
  );

describe("the Sent copy's state", () => {
  test("made due by the sent finish itself: every message in one statement, never by a bounce or a lost lease, never reset", async () => {
    const { db } = database;
    const one = await newMessage(["one@example.net"]);
    const two = await newMessage(["two-a@example.net", "two-b@example.net"]);
    const bounced = await newMessage(["bounced@example.net"]);
    const lost = await newMessage(["lost@example.net"]);
    await enqueue(db, mailboxId, { recipientEmail: "no-message@example.net", subject: "Hello" });
    const leases = new Map(
      (await claim(db, { limit: 100, owner: "test" })).map((m) => [m.recipientEmail, m.lease]),
    );
    // One statement: two messages, a row without one, and a lease no longer held.
    const finished = await markSentMany(db, [
      leases.get("one@example.net")!,
      leases.get("two-a@example.net")!,
      leases.get("no-message@example.net")!,
      { ...leases.get("lost@example.net")!, attempt: 99 },
    ]);
    expect(finished.rejected).toEqual([leases.get("lost@example.net")!.id]);
    await markBounced(db, leases.get("bounced@example.net")!);
    expect((await state(one.id)).sent_copy_state).toBe("pending");
    expect((await state(two.id)).sent_copy_state).toBe("pending");
    expect((await state(bounced.id)).sent_copy_state).toBeNull();
    expect((await state(lost.id)).sent_copy_state).toBeNull();
    await markSent(db, leases.get("lost@example.net")!);
    // Copied before the second recipient is sent: that send leaves the copy as it is.
    const copies = await claimSentCopies(db, { limit: 10, mailboxId });
    const copy = copies.find((c) => c.messageId === two.id)!;
    expect(
      await markSentCopied(
        db,
        { messageId: two.id, attempt: copy.attempt },
        { folder: "Sent", uid: 3, uidValidity: 9 },
      ),
    ).toBe(true);
    await markSent(db, leases.get("two-b@example.net")!);
    expect((await state(two.id)).sent_copy_state).toBe("copied");
    for (const other of copies.filter((c) => c.messageId !== two.id))
      await markSentCopySkipped(db, { messageId: other.messageId, attempt: other.attempt }, "test");
  });

  test("becomes pending when the first recipient is sent; copied once with its UID", async () => {
    const { db } = database;
    const message = await newMessage(["a@example.net", "b@example.net"]);
    expect((await state(message.id)).sent_copy_state).toBeNull();
    expect(await claimSentCopies(db, { limit: 10, mailboxId })).toEqual([]);
    await sendAll();
    expect((await state(message.id)).sent_copy_state).toBe("pending");

    const [claimed] = await claimSentCopies(db, { limit: 10, mailboxId });
    expect(claimed).toMatchObject({
      messageId: message.id,
      messageIdHeader: message.header,
      attempt: 1,
    });
    // Nobody else gets it while it is held.
    expect(await claimSentCopies(db, { limit: 10, mailboxId })).toEqual([]);
    const lease = { messageId: message.id, attempt: 1 };
    expect(await markSentCopied(db, lease, { folder: "Sent", uid: 7, uidValidity: 99 })).toBe(true);
    // A second finish under the same lease changes nothing.
    expect(await markSentCopied(db, lease, { folder: "Sent", uid: 8, uidValidity: 99 })).toBe(
      false,
    );
    expect(await state(message.id)).toMatchObject({ sent_copy_state: "copied" });
    // copied needs its place: the database refuses a copied row without a UID.
    expect(
      await expectRejected(
        db,
        sql`UPDATE messages SET sent_copy_uid = NULL WHERE id = ${message.id}`,
      ),
    ).toBe("23514");
  });

  test("a failure retries later (never at once), a final one fails; stale leases recover", async () => {
    const { db } = database;
    const message = await newMessage(["c@example.net"]);
    await sendAll();
    await claimSentCopies(db, { limit: 10, mailboxId });
    expect(
      await markSentCopyFailed(
        db,
        { messageId: message.id, attempt: 1 },
        { error: "timeout\nx", folder: "Sent" },
      ),
    ).toBe(true);
    expect(await state(message.id)).toEqual({
      sent_copy_state: "pending",
      sent_copy_error: "timeout x",
    });
    expect(await claimSentCopies(db, { limit: 10, mailboxId })).toEqual([]); // not due yet
    await db.execute(
      sql`UPDATE messages SET sent_copy_next_attempt_at = now() - interval '1 second' WHERE id = ${message.id}`,
    );
    const [again] = await claimSentCopies(db, { limit: 10, mailboxId });
    expect(again).toMatchObject({ attempt: 2, folder: "Sent" });

    await db.execute(
      sql`UPDATE messages SET sent_copy_started_at = now() - interval '1 hour' WHERE id = ${message.id}`,
    );
    expect(await recoverStaleSentCopies(db, { olderThanMs: 60_000 })).toBe(1);
    const [third] = await claimSentCopies(db, { limit: 10, mailboxId });
    expect(third!.attempt).toBe(3);
    // The stale attempt cannot finish any more.
    expect(
      await markSentCopied(
        db,
        { messageId: message.id, attempt: 2 },
        { folder: "Sent", uid: 1, uidValidity: 1 },
      ),
    ).toBe(false);
    expect(
      await markSentCopyFailed(
        db,
        { messageId: message.id, attempt: 3 },
        { error: "too large", final: true },
      ),
    ).toBe(true);
    expect((await state(message.id)).sent_copy_state).toBe("failed");

    const skipped = await newMessage(["d@example.net"]);
    await sendAll();
    await claimSentCopies(db, { limit: 10, mailboxId });
    expect(
      await markSentCopySkipped(
        db,
        { messageId: skipped.id, attempt: 1 },
        "auto: imap.gmail.com copies submissions",
      ),
    ).toBe(true);
    expect((await state(skipped.id)).sent_copy_state).toBe("skipped");
  });
});

describe("delivery reports", () => {
  const place = (uid: number) => ({ folder: "INBOX", uidValidity: 5, uid });

  test("a hard bounce marks exactly that recipient bounced, once", async () => {
    const { db } = database;
    const message = await newMessage(["ok@example.net", "Gone@Example.net"]);
    await sendAll();
    const report = {
      mailboxId,
      messageIdHeader: message.header,
      recipients: ["gone@example.net"],
      kind: "bounce" as const,
      action: "failed",
      status: "5.1.1",
      diagnosticCode: "550 5.1.1 unknown user",
      ...place(10),
    };
    const first = await recordDeliveryReport(db, report);
    expect(first).toMatchObject({ recorded: true, bounced: true });
    expect(await statuses(message.id)).toEqual({
      "ok@example.net": "sent",
      "Gone@Example.net": "bounced",
    });
    expect(await recordDeliveryReport(db, report)).toMatchObject({
      recorded: false,
      bounced: false,
    });
    const count = rowsOf<{ n: number }>(
      await db.execute(
        sql`SELECT count(*)::int AS n FROM delivery_reports WHERE outbound_message_id = ${first.outboundMessageId!}`,
      ),
    )[0]!.n;
    expect(count).toBe(1);
  });

  test("delays and complaints are recorded without a status change; foreign reports match nothing", async () => {
    const { db } = database;
    const message = await newMessage(["slow@example.net"]);
    await sendAll();
    const base = { mailboxId, messageIdHeader: message.header, recipients: ["slow@example.net"] };
    expect(
      await recordDeliveryReport(db, {
        ...base,
        kind: "delay",
        action: "delayed",
        status: "4.4.7",
        ...place(11),
      }),
    ).toMatchObject({ recorded: true, bounced: false });
    // A single-recipient message takes a complaint that names no recipient.
    expect(
      await recordDeliveryReport(db, {
        ...base,
        recipients: [],
        kind: "complaint",
        action: "abuse",
        ...place(12),
      }),
    ).toMatchObject({ recorded: true, bounced: false });
    expect(await statuses(message.id)).toEqual({ "slow@example.net": "sent" });
    expect(
      await recordDeliveryReport(db, {
        ...base,
        messageIdHeader: "<not-ours@example.org>",
        kind: "bounce",
        action: "failed",
        status: "5.1.1",
        ...place(13),
      }),
    ).toEqual({ outboundMessageId: undefined, recorded: false, bounced: false });
    // A bounce must be permanent.
    await expect(
      recordDeliveryReport(db, {
        ...base,
        kind: "bounce",
        action: "failed",
        status: "4.1.1",
        ...place(14),
      }),
    ).rejects.toThrow();
  });
});

describe("checkpoints", () => {
  test("move forward within a UIDVALIDITY, restart on a new one", async () => {
    const { db } = database;
    expect(await readCheckpoint(db, mailboxId, "INBOX")).toBeUndefined();
    await saveCheckpoint(db, mailboxId, "INBOX", { uidValidity: 5, lastUid: 10 });
    await saveCheckpoint(db, mailboxId, "INBOX", { uidValidity: 5, lastUid: 4 });
    expect(await readCheckpoint(db, mailboxId, "INBOX")).toEqual({ uidValidity: 5, lastUid: 10 });
    await saveCheckpoint(db, mailboxId, "INBOX", { uidValidity: 6, lastUid: 2 });
    expect(await readCheckpoint(db, mailboxId, "INBOX")).toEqual({ uidValidity: 6, lastUid: 2 });
  });
});
