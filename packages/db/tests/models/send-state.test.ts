import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rowsOf } from "../../src/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { expectRejected, mailboxInsert } from "../helpers.ts";

// The database holds the sender's invariants for every writer: pause fields, outcome columns.
let database: TestDatabase;
let mailboxId: string;

beforeAll(async () => {
  database = await openTestDatabase();
  mailboxId = rowsOf<{ id: string }>(await database.db.execute(mailboxInsert()))[0]!.id;
});
afterAll(async () => {
  await database?.close();
});

const pause = (values: string) =>
  sql.raw(`UPDATE mailboxes SET ${values} WHERE id = '${mailboxId}'`);

describe("mailbox pause state", () => {
  test("defaults: one connection, not paused", async () => {
    const [row] = rowsOf<Record<string, unknown>>(
      await database.db.execute(
        sql`SELECT smtp_max_connections, pause_reason, paused_until FROM mailboxes WHERE id = ${mailboxId}`,
      ),
    );
    expect(row).toEqual({ smtp_max_connections: 1, pause_reason: null, paused_until: null });
  });

  test("operator pauses have no end, provider limits must have one", async () => {
    const { db } = database;
    await db.execute(pause(`pause_reason = 'auth_failed', paused_at = now()`));
    await db.execute(
      pause(
        `pause_reason = 'rate_limited', paused_at = now(), paused_until = now() + interval '15 minutes', pause_detail = '421 4.7.0 slow down'`,
      ),
    );
    expect(
      await expectRejected(
        db,
        pause(`pause_reason = 'auth_failed', paused_until = now() + interval '1 minute'`),
      ),
    ).toBe("23514");
    expect(
      await expectRejected(db, pause(`pause_reason = 'quota_exceeded', paused_until = NULL`)),
    ).toBe("23514");
    expect(await expectRejected(db, pause(`pause_reason = 'sleepy'`))).toBe("23514");
    // Resuming clears every field at once, or the database refuses.
    expect(await expectRejected(db, pause(`pause_reason = NULL`))).toBe("23514");
    await db.execute(
      pause(`pause_reason = NULL, paused_at = NULL, paused_until = NULL, pause_detail = NULL`),
    );
    expect(await expectRejected(db, pause(`smtp_max_connections = 0`))).toBe("23514");
  });
});

describe("per-recipient outcome columns", () => {
  test("reply codes, enhanced status and outcome_unknown are checked", async () => {
    const { db } = database;
    const [row] = rowsOf<{ id: string }>(
      await db.execute(
        sql`INSERT INTO outbound_messages (mailbox_id, recipient_email, subject) VALUES (${mailboxId}, 'to@example.net', 'Hi') RETURNING id`,
      ),
    );
    const update = (values: string) =>
      sql.raw(`UPDATE outbound_messages SET ${values} WHERE id = '${row!.id}'`);
    await db.execute(
      update(
        `error_code = 'recipient_rejected', smtp_reply_code = 550, smtp_enhanced_status = '5.1.1', smtp_reply = '550 5.1.1 no such user'`,
      ),
    );
    expect(await expectRejected(db, update(`smtp_reply_code = 99`))).toBe("23514");
    expect(await expectRejected(db, update(`smtp_enhanced_status = '5.1'`))).toBe("23514");
    expect(await expectRejected(db, update(`error_code = 'Has Spaces'`))).toBe("23514");
    // A queued row cannot carry a started DATA phase, and outcome_unknown is a failed row's.
    expect(await expectRejected(db, update(`data_started_at = now()`))).toBe("23514");
    expect(await expectRejected(db, update(`error_code = 'outcome_unknown'`))).toBe("23514");
    await db.execute(
      update(
        `status = 'processing', attempts = 1, processing_started_at = now(), lease_renewed_at = now(), lease_owner = 'w', data_started_at = now()`,
      ),
    );
    await db.execute(
      update(
        `status = 'failed', processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL, error_code = 'outcome_unknown'`,
      ),
    );
  });
});
