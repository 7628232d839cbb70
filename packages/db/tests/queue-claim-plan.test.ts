import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Database, rowsOf } from "../src/index.ts";
import { claim, enqueue } from "../src/queue/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { mailboxInsert } from "./helpers.ts";

let database: TestDatabase;
let db: Database;

beforeAll(async () => {
  database = await openTestDatabase();
  db = database.db;
});
afterAll(async () => {
  await database?.close();
});

// Every queued row of one mailbox (a small deployment): the statistics then say any other
// mailbox matches nothing, which once made the planner expect one due row and sort the whole
// backlog on every claim instead of reading the due-row index in order.
test("a claim reads the due-row index in order, not the whole backlog, when one mailbox has every queued row", async () => {
  const [mailbox] = rowsOf<{ id: string }>(await db.execute(mailboxInsert()));
  for (let i = 0; i < 4; i++) {
    await enqueue(
      db,
      mailbox!.id,
      Array.from({ length: 1000 }, (_, n) => ({
        recipientEmail: "r@example.net",
        subject: `m${n}`,
      })),
    );
  }
  await db.execute(sql`ANALYZE outbound_messages`);
  const read = await db.transaction(async (tx) => {
    expect(await claim(tx, { limit: 10, owner: "plan" })).toHaveLength(10);
    const [row] = rowsOf<{ n: string }>(
      await tx.execute(
        sql`SELECT pg_stat_get_xact_tuples_returned('outbound_messages_due_idx'::regclass)::text AS n`,
      ),
    );
    return Number(row!.n);
  });
  expect(read).toBeGreaterThanOrEqual(10);
  expect(read).toBeLessThan(100);
});
