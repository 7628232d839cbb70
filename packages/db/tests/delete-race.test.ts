import { afterAll, beforeAll, expect, test } from "vitest";
import { FernetKey, Keyring } from "@imap-proxy/crypto";
import { type Database, createMailbox, deleteMailbox, rowsOf, sql } from "../src/index.ts";
import { claim, enqueue, markFailedMany, markSentMany, retryFailed } from "../src/queue/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

const sealer = Keyring.parse(FernetKey.generate());
let serial = 0;

/** A mailbox with one sent and one failed message (the failed one can be requeued). */
async function mailboxWithFinishedMail(db: Database) {
  serial += 1;
  const mailbox = await createMailbox(db, sealer, {
    email: `race-${serial}-${Date.now()}@example.com`,
    imapHost: "imap.example.com",
    imapPort: 993,
    imapUsername: "u",
    imapPassword: "p",
    smtpHost: "smtp.example.com",
    smtpPort: 587,
    smtpUsername: "u",
    smtpPassword: "p",
    smtpTlsMode: "starttls_required",
  });
  const [sent, failed] = await enqueue(db, mailbox.id, [
    { recipientEmail: "sent@example.net", subject: "s" },
    { recipientEmail: "failed@example.net", subject: "f" },
  ]);
  const claimed = await claim(db, { limit: 10, owner: `race-${serial}` });
  const lease = (id: string) => claimed.find((m) => m.id === id)!.lease;
  await markSentMany(db, [lease(sent!.id)]);
  await markFailedMany(db, [{ ...lease(failed!.id), error: "550 no", final: true }]);
  return { mailbox, failedId: failed!.id };
}

async function statusOf(db: Database, id: string): Promise<string | undefined> {
  return rowsOf<{ status: string }>(
    await db.execute(sql`SELECT status FROM outbound_messages WHERE id = ${id}::uuid`),
  )[0]?.status;
}

test("a delete after a requeue is refused (still_has_mail) and keeps the queued row", async () => {
  const { db } = database;
  const { mailbox, failedId } = await mailboxWithFinishedMail(db);
  expect(await retryFailed(db, failedId)).toEqual([failedId]);
  await expect(deleteMailbox(db, mailbox.id)).rejects.toThrow(
    /still has 1 queued or in-flight message/,
  );
  expect(await statusOf(db, failedId)).toBe("queued");
});

// Postgres only: the embedded database runs one transaction at a time (a second connection
// waits for the first to go idle), so this interleaving cannot happen there.
test.skipIf(!process.env.DATABASE_URL)(
  "a requeue committed while the delete waits on its row survives: the delete is refused",
  async () => {
    // Two connections: the requeue's transaction updates (and row-locks) the failed row and
    // holds it; the delete starts, locks the mailbox, and blocks on that row; the requeue
    // commits. Deleting all of the mailbox's rows would now delete a queued message.
    const { db } = database;
    const { mailbox, failedId } = await mailboxWithFinishedMail(db);
    let releaseRequeue!: () => void;
    const requeueHeld = new Promise<void>((resolve) => (releaseRequeue = resolve));
    let requeued!: () => void;
    const requeueDone = new Promise<void>((resolve) => (requeued = resolve));
    const requeue = db.transaction(async (tx) => {
      expect(await retryFailed(tx as unknown as Database, failedId)).toEqual([failedId]);
      requeued();
      await requeueHeld;
    });
    await requeueDone;
    const deletion = deleteMailbox(db, mailbox.id).then(
      () => "deleted",
      (error: { code?: string }) => error.code,
    );
    // Wait until the delete is blocked on the requeued row's lock.
    for (let waited = 0; ; waited += 10) {
      const [row] = rowsOf<{ n: number }>(
        await db.execute(sql`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`),
      );
      if (row!.n > 0) break;
      if (waited > 10_000) throw new Error("the delete never waited on the requeued row");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    releaseRequeue();
    await requeue;
    expect(await deletion).toBe("still_has_mail");
    expect(await statusOf(db, failedId)).toBe("queued");
    const [left] = rowsOf<{ n: number }>(
      await db.execute(
        sql`SELECT count(*)::int AS n FROM mailboxes WHERE id = ${mailbox.id}::uuid`,
      ),
    );
    expect(left!.n).toBe(1);
  },
);

test("only finished mail: the mailbox and its records go", async () => {
  const { db } = database;
  const { mailbox } = await mailboxWithFinishedMail(db);
  const result = await deleteMailbox(db, mailbox.id);
  expect(result.finishedMessagesDeleted).toBe(2);
});
