import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deleteMailbox, getMailbox, rowsOf } from "../../src/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { catalogColumns, expectRejected, mailboxInsert } from "../helpers.ts";

let database: TestDatabase;
let mailboxId: string;

beforeAll(async () => {
  // Starts empty so the test proves the migrations alone build the table.
  database = await openTestDatabase({ migrated: false });
});
afterAll(async () => {
  await database?.close();
});

function messageInsert(values: Record<string, unknown>) {
  const all = {
    mailbox_id: mailboxId,
    recipient_email: "to@example.net",
    subject: "Hi",
    ...values,
  };
  const entries = Object.entries(all);
  return sql`INSERT INTO outbound_messages (${sql.join(
    entries.map(([name]) => sql.identifier(name)),
    sql`, `,
  )}) VALUES (${sql.join(
    entries.map(([, value]) => sql`${value}`),
    sql`, `,
  )}) RETURNING *`;
}

describe("outbound_messages", () => {
  test("test_table_creation_and_status_enum", async () => {
    const { db } = database;
    const before = rowsOf<{ exists: boolean }>(
      await db.execute(sql`SELECT to_regclass('public.outbound_messages') IS NOT NULL AS "exists"`),
    )[0];
    expect(before?.exists).toBe(false);

    const { migrate } = await import("../../src/migrate.ts");
    await migrate(database);

    const columns = await catalogColumns(db, "outbound_messages");
    const expected: Record<string, [string, "YES" | "NO"]> = {
      id: ["uuid", "NO"],
      mailbox_id: ["uuid", "NO"],
      recipient_email: ["text", "NO"],
      subject: ["text", "NO"],
      status: ["outbound_message_status", "NO"],
      attempts: ["int4", "NO"],
      next_retry_at: ["timestamptz", "YES"],
      processing_started_at: ["timestamptz", "YES"],
      lease_renewed_at: ["timestamptz", "YES"],
      sent_at: ["timestamptz", "YES"],
      opened_at: ["timestamptz", "YES"],
      clicked_at: ["timestamptz", "YES"],
      error_log: ["text", "YES"],
      created_at: ["timestamptz", "NO"],
      updated_at: ["timestamptz", "NO"],
    };
    for (const [name, [udt, nullable]] of Object.entries(expected)) {
      expect(columns.get(name)?.udt_name, name).toBe(udt);
      expect(columns.get(name)?.is_nullable, name).toBe(nullable);
    }

    const labels = rowsOf<{ label: string }>(
      await db.execute(sql`
        SELECT e.enumlabel AS label FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
        WHERE t.typname = 'outbound_message_status' ORDER BY e.enumsortorder`),
    ).map((row) => row.label);
    expect(labels).toEqual(["queued", "processing", "sent", "failed", "bounced"]);

    mailboxId = rowsOf<{ id: string }>(await db.execute(mailboxInsert()))[0]!.id;

    // Defaults.
    const row = rowsOf<Record<string, unknown>>(await db.execute(messageInsert({})))[0]!;
    expect(row.status).toBe("queued");
    expect(row.attempts).toBe(0);
    expect(row.created_at).not.toBeNull();
    expect(row.updated_at).not.toBeNull();
    expect(row.processing_started_at).toBeNull();
    expect(row.sent_at).toBeNull();

    // A status outside the enum.
    expect(await expectRejected(db, messageInsert({ status: "delivered" }))).toBe("22P02");
    // Impossible states.
    expect(await expectRejected(db, messageInsert({ attempts: -1 }))).toBe("23514");
    expect(
      await expectRejected(
        db,
        messageInsert({ status: "processing", attempts: 1, lease_owner: "w" }),
      ),
    ).toBe("23514");
    expect(
      await expectRejected(
        db,
        messageInsert({ status: "queued", processing_started_at: new Date().toISOString() }),
      ),
    ).toBe("23514");
    // A processing row without a renewal time could never be recovered; a queued one with it is a stray lease.
    expect(
      await expectRejected(
        db,
        messageInsert({
          status: "processing",
          attempts: 1,
          processing_started_at: new Date().toISOString(),
          lease_owner: "w",
        }),
      ),
    ).toBe("23514");
    expect(
      await expectRejected(
        db,
        messageInsert({ status: "queued", lease_renewed_at: new Date().toISOString() }),
      ),
    ).toBe("23514");
    expect(await expectRejected(db, messageInsert({ status: "sent", attempts: 1 }))).toBe("23514");
    expect(
      await expectRejected(
        db,
        messageInsert({ status: "sent", sent_at: new Date().toISOString(), attempts: 0 }),
      ),
    ).toBe("23514");
    expect(
      await expectRejected(
        db,
        messageInsert({ status: "failed", next_retry_at: new Date().toISOString() }),
      ),
    ).toBe("23514");
    expect(await expectRejected(db, messageInsert({ opened_at: new Date().toISOString() }))).toBe(
      "23514",
    );
    expect(await expectRejected(db, messageInsert({ subject: null }))).toBe("23502");
    // The foreign key.
    expect(
      await expectRejected(
        db,
        messageInsert({ mailbox_id: "00000000-0000-4000-8000-000000000000" }),
      ),
    ).toBe("23503");

    // A row is born queued: even a consistent processing, sent or failed row cannot be
    // inserted (the transition trigger covers INSERT), only reached through the transitions.
    const now = new Date().toISOString();
    for (const values of [
      {
        status: "processing",
        attempts: 1,
        processing_started_at: now,
        lease_renewed_at: now,
        lease_owner: "w",
      },
      { status: "sent", attempts: 1, sent_at: now, opened_at: now },
      { status: "failed", attempts: 5 },
      { status: "bounced", attempts: 1 },
    ]) {
      expect(await expectRejected(db, messageInsert(values)), values.status).toBe("23514");
    }
    const [queued] = rowsOf<{ id: string }>(
      await db.execute(messageInsert({ status: "queued", attempts: 0 })),
    );
    // ...and reaches the others through the state machine.
    await db.execute(sql`UPDATE outbound_messages SET status = 'processing', attempts = 1,
      processing_started_at = now(), lease_renewed_at = now(), lease_owner = 'w'
      WHERE id = ${queued!.id}`);
    await db.execute(sql`UPDATE outbound_messages SET status = 'sent', sent_at = now(),
      processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
      WHERE id = ${queued!.id}`);
  });

  test("deleting a mailbox that still has mail is refused by the database", async () => {
    const { db } = database;
    // Postgres 15 reports RESTRICT as 23503, PGlite's Postgres 17 as 23001 (restrict_violation).
    expect(["23001", "23503"]).toContain(
      await expectRejected(db, sql`DELETE FROM mailboxes WHERE id = ${mailboxId}`),
    );
    const remaining = rowsOf<{ n: number }>(
      await db.execute(
        sql`SELECT count(*)::int AS n FROM outbound_messages WHERE mailbox_id = ${mailboxId}`,
      ),
    )[0];
    expect(remaining?.n).toBeGreaterThan(0);
  });

  test("the repository says why by code: still_has_mail while queued, not_found when absent", async () => {
    const { db } = database;
    await expect(deleteMailbox(db, mailboxId)).rejects.toMatchObject({ code: "still_has_mail" });
    await expect(getMailbox(db, "nobody@example.invalid")).rejects.toMatchObject({
      code: "not_found",
    });
    await expect(deleteMailbox(db, "00000000-0000-0000-0000-000000000000")).rejects.toMatchObject({
      code: "not_found",
    });
  });

  test("the due-row index serves the claim's order; only the primary key has no predicate", async () => {
    const { db } = database;
    const indexes = rowsOf<{ indexdef: string }>(
      await db.execute(sql`SELECT indexdef FROM pg_indexes WHERE tablename = 'outbound_messages'`),
    ).map((row) => row.indexdef);
    expect(
      indexes.some((def) =>
        /COALESCE\(next_retry_at, created_at\), id\) WHERE \(status = 'queued'/.test(def),
      ),
    ).toBe(true);
    expect(
      indexes.some((def) => /\(lease_renewed_at\) WHERE \(status = 'processing'/.test(def)),
    ).toBe(true);
    // Every claim and finish adds an entry to each index whose predicate the row meets (schema.ts).
    expect(indexes.filter((def) => !/ WHERE /.test(def))).toEqual([
      expect.stringMatching(/^CREATE UNIQUE INDEX outbound_messages_pkey /),
    ]);
  });
});
