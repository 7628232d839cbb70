import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type Database, resumeMailbox, rowsOf } from "../src/index.ts";
import {
  claim,
  enqueue,
  markBouncedMany,
  markDataStarted,
  markFailedMany,
  markSentMany,
  pauseMany,
  retryFailed,
} from "../src/queue/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { mailboxInsert } from "./helpers.ts";

// The sender's transitions: replies recorded, mailbox pauses, the DATA marker, operator retry.
let database: TestDatabase;
let db: Database;
let mailboxId: string;

beforeAll(async () => {
  database = await openTestDatabase();
  db = database.db;
});
afterAll(async () => {
  await database?.close();
});
beforeEach(async () => {
  await db.execute(
    sql`UPDATE outbound_messages SET next_retry_at = '9999-12-31' WHERE status = 'queued'`,
  );
  mailboxId = rowsOf<{ id: string }>(await db.execute(mailboxInsert()))[0]!.id;
});

async function row(id: string) {
  return rowsOf<Record<string, unknown>>(
    await db.execute(
      sql`SELECT status, attempts, error_code, smtp_reply_code, smtp_enhanced_status, smtp_reply,
                 data_started_at IS NOT NULL AS data_started, next_retry_at, error_log
          FROM outbound_messages WHERE id = ${id}`,
    ),
  )[0]!;
}
async function mailbox() {
  return rowsOf<Record<string, unknown>>(
    await db.execute(
      sql`SELECT pause_reason, paused_until IS NOT NULL AS timed, pause_detail FROM mailboxes WHERE id = ${mailboxId}`,
    ),
  )[0]!;
}
async function claimOne() {
  await enqueue(db, mailboxId, { recipientEmail: "to@example.net", subject: "s" });
  const [message] = await claim(db, { limit: 1, owner: "w1" });
  return message!;
}

describe("recording what the server said", () => {
  test("sent keeps the final reply (queue id); bounced the refusal and a log line", async () => {
    const a = await claimOne();
    const b = await claimOne();
    await markSentMany(db, [
      {
        ...a.lease,
        reply: { code: 250, enhancedStatus: "2.0.0", text: "250 2.0.0 Ok: queued as ABC" },
      },
    ]);
    await markBouncedMany(db, [
      {
        ...b.lease,
        errorCode: "recipient_rejected",
        reply: { code: 550, enhancedStatus: "5.1.1", text: "550 5.1.1 no such user" },
        error: "recipient_rejected: 550 5.1.1 no such user",
      },
    ]);
    expect(await row(a.id)).toMatchObject({
      status: "sent",
      error_code: null,
      smtp_reply_code: 250,
      smtp_reply: "250 2.0.0 Ok: queued as ABC",
    });
    expect(await row(b.id)).toMatchObject({
      status: "bounced",
      error_code: "recipient_rejected",
      smtp_reply_code: 550,
      smtp_enhanced_status: "5.1.1",
    });
    expect((await row(b.id)).error_log).toMatch(/attempt 1: recipient_rejected: 550 5\.1\.1/);
  });

  test("a final failure ends the row at once; outcome_unknown needs the DATA marker", async () => {
    const m = await claimOne();
    expect((await markDataStarted(db, [m.lease])).finished).toEqual([m.id]);
    await markFailedMany(db, [
      { ...m.lease, error: "outcome_unknown: no reply", errorCode: "outcome_unknown", final: true },
    ]);
    expect(await row(m.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      error_code: "outcome_unknown",
      data_started: true,
    });
    // Only an operator queues it again, and then it starts a clean life.
    expect(await retryFailed(db, m.id)).toEqual([m.id]);
    expect(await row(m.id)).toMatchObject({
      status: "queued",
      error_code: null,
      data_started: false,
    });
    expect((await row(m.id)).error_log).toMatch(/queued again by an operator/);
    expect(await retryFailed(db, m.id)).toEqual([]);
  });

  test("a retry after DATA began with a final 4xx clears the marker", async () => {
    const m = await claimOne();
    await markDataStarted(db, [m.lease]);
    await markFailedMany(db, [
      { ...m.lease, error: "temporary_failure: 451", errorCode: "temporary_failure" },
    ]);
    expect(await row(m.id)).toMatchObject({ status: "queued", data_started: false });
  });

  test("the DATA marker is fenced by the lease", async () => {
    const m = await claimOne();
    expect((await markDataStarted(db, [{ ...m.lease, owner: "someone-else" }])).rejected).toEqual([
      m.id,
    ]);
    expect((await row(m.id)).data_started).toBe(false);
  });
});

describe("pausing the mailbox", () => {
  test("a timed pause: message queued again without using an attempt; claims skip the mailbox", async () => {
    const m = await claimOne();
    const waiting = (
      await enqueue(db, mailboxId, { recipientEmail: "b@example.net", subject: "s" })
    )[0]!;
    await pauseMany(db, [
      {
        ...m.lease,
        mailboxId,
        reason: "rate_limited",
        pausedForMs: 600_000,
        detail: "421 4.7.0 try again in 10 minutes",
        reply: { code: 421, enhancedStatus: "4.7.0", text: "421 4.7.0 try again in 10 minutes" },
      },
    ]);
    expect(await row(m.id)).toMatchObject({
      status: "queued",
      attempts: 0,
      error_code: "rate_limited",
      smtp_reply_code: 421,
    });
    expect(await mailbox()).toMatchObject({ pause_reason: "rate_limited", timed: true });
    // The other queued message of the paused mailbox is due, yet not claimed.
    expect(await claim(db, { limit: 10, owner: "w1" })).toEqual([]);
    await resumeMailbox(db, mailboxId);
    const claimed = await claim(db, { limit: 10, owner: "w1" });
    expect(claimed.map((c) => c.id)).toEqual([waiting.id]);
  });

  test("an operator pause is not replaced by a timed one", async () => {
    const a = await claimOne();
    const b = await claimOne();
    await pauseMany(db, [
      { ...a.lease, mailboxId, reason: "auth_failed", pausedForMs: null, detail: "535 5.7.8" },
    ]);
    await pauseMany(db, [
      { ...b.lease, mailboxId, reason: "rate_limited", pausedForMs: 1000, detail: "421 4.7.0" },
    ]);
    expect(await mailbox()).toMatchObject({ pause_reason: "auth_failed", timed: false });
    expect(await row(b.id)).toMatchObject({ status: "queued", attempts: 0 });
  });
});
