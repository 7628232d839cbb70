import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Database, DatabaseError, openDatabase, rowsOf } from "../src/index.ts";
import {
  type ClaimedMessage,
  type RetryPolicy,
  claim,
  enqueue,
  extendLeases,
  markDataStarted,
  markBounced,
  markFailed,
  markFailedMany,
  markSent,
  markSentMany,
  recoverStale,
  releaseMany,
  retryDelayMs,
} from "../src/queue/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { mailboxInsert, rejectionOf } from "./helpers.ts";

let database: TestDatabase;
let db: Database;

beforeAll(async () => {
  database = await openTestDatabase();
  db = database.db;
});
afterAll(async () => {
  await database?.close();
});

async function newMailbox(): Promise<string> {
  return rowsOf<{ id: string }>(await db.execute(mailboxInsert()))[0]!.id;
}

async function statusOf(id: string) {
  return rowsOf<{
    status: string;
    attempts: number;
    next_retry_at: unknown;
    error_log: string | null;
    lease_owner: string | null;
  }>(
    await db.execute(
      sql`SELECT status, attempts, next_retry_at, error_log, lease_owner FROM outbound_messages WHERE id = ${id}`,
    ),
  )[0]!;
}

/** Parks everything still queued far in the future so each test starts from an empty queue. */
async function drain() {
  await db.execute(
    sql`UPDATE outbound_messages SET next_retry_at = '9999-12-31' WHERE status = 'queued'`,
  );
}

const clockAt = (iso: string) => ({ now: () => new Date(iso), random: () => 0.5 });

describe("enqueue", () => {
  test("one or many in one call; idempotency keys return the existing row", async () => {
    await drain();
    const mailboxId = await newMailbox();
    const [single] = await enqueue(db, mailboxId, {
      recipientEmail: "a@example.net",
      subject: "one",
    });
    expect(single).toMatchObject({ created: true, status: "queued" });
    const subjectOf = async (id: string) =>
      rowsOf<{ subject: string }>(
        await db.execute(sql`SELECT subject FROM outbound_messages WHERE id = ${id}`),
      )[0]!.subject;
    expect(await subjectOf(single!.id)).toBe("one");

    const batch = await enqueue(db, mailboxId, [
      { recipientEmail: "b@example.net", subject: "two", idempotencyKey: "k-2" },
      { recipientEmail: "c@example.net", subject: "three" },
      { recipientEmail: "b@example.net", subject: "two again", idempotencyKey: "k-2" },
    ]);
    expect(await Promise.all(batch.map((r) => subjectOf(r.id)))).toEqual(["two", "three", "two"]);
    expect(batch[0]!.id).toBe(batch[2]!.id);
    expect(batch.map((r) => r.created)).toEqual([true, true, true]);

    const again = await enqueue(db, mailboxId, [
      { recipientEmail: "x@example.net", subject: "other", idempotencyKey: "k-2" },
      { recipientEmail: "d@example.net", subject: "four", idempotencyKey: "k-4" },
    ]);
    expect(again.map((r) => r.created)).toEqual([false, true]);
    expect(again[0]!.id).toBe(batch[0]!.id);
    expect(await subjectOf(again[0]!.id)).toBe("two");

    // The same key under another mailbox is another message.
    const otherMailbox = await newMailbox();
    const [elsewhere] = await enqueue(db, otherMailbox, {
      recipientEmail: "e@example.net",
      subject: "x",
      idempotencyKey: "k-2",
    });
    expect(elsewhere!.created).toBe(true);
    const total = rowsOf<{ n: number }>(
      await db.execute(
        sql`SELECT count(*)::int AS n FROM outbound_messages WHERE idempotency_key = 'k-2'`,
      ),
    )[0]!.n;
    expect(total).toBe(2);
  });
});

describe("claim and finish", () => {
  test("claims due rows oldest first, sets the lease, and only the lease holder finishes", async () => {
    await drain();
    const mailboxId = await newMailbox();
    const ids: string[] = [];
    for (const subject of ["first", "second", "third"]) {
      ids.push((await enqueue(db, mailboxId, { recipientEmail: "a@example.net", subject }))[0]!.id);
    }
    const claimed = await claim(db, { limit: 2, owner: "worker-a" });
    expect(claimed.map((m) => m.subject).sort()).toEqual(["first", "second"]);
    for (const message of claimed) {
      expect(message.lease).toEqual({ id: message.id, owner: "worker-a", attempt: 1 });
      expect(await statusOf(message.id)).toMatchObject({
        status: "processing",
        attempts: 1,
        lease_owner: "worker-a",
      });
    }
    // Another owner cannot finish worker-a's rows; a wrong attempt number cannot either.
    await expect(markSent(db, { ...claimed[0]!.lease, owner: "worker-b" })).rejects.toMatchObject({
      code: "lease_lost",
    });
    await expect(markSent(db, { ...claimed[0]!.lease, attempt: 2 })).rejects.toBeInstanceOf(
      DatabaseError,
    );
    await markSent(db, claimed[0]!.lease);
    expect((await statusOf(claimed[0]!.id)).status).toBe("sent");
    await markBounced(db, claimed[1]!.lease);
    expect((await statusOf(claimed[1]!.id)).status).toBe("bounced");
    // Finishing twice is refused: the lease ended.
    await expect(markSent(db, claimed[0]!.lease)).rejects.toMatchObject({ code: "lease_lost" });

    const rest = await claim(db, { limit: 10, owner: "worker-b" });
    expect(rest.map((m) => m.subject)).toEqual(["third"]);
    const batch = await markSentMany(db, [
      rest[0]!.lease,
      { id: ids[0]!, owner: "worker-b", attempt: 1 },
    ]);
    expect(batch).toEqual({ finished: [rest[0]!.id], rejected: [ids[0]] });
    expect(await claim(db, { limit: 10, owner: "worker-c" })).toEqual([]);
  });

  test("retry schedule with backoff and jitter, then the maximum-attempts cut-off", async () => {
    await drain();
    const policy: RetryPolicy = {
      maxAttempts: 3,
      baseDelayMs: 60_000,
      maxDelayMs: 3_600_000,
      jitter: 0.5,
    };
    expect(retryDelayMs(1, policy, () => 0)).toBe(60_000);
    expect(retryDelayMs(2, policy, () => 0)).toBe(120_000);
    expect(retryDelayMs(3, policy, () => 1)).toBe(120_000); // 240 s halved by full jitter
    expect(retryDelayMs(20, policy, () => 0)).toBe(3_600_000);

    const mailboxId = await newMailbox();
    const message = (
      await enqueue(db, mailboxId, { recipientEmail: "a@example.net", subject: "retry me" })
    )[0]!;
    let clock = clockAt("2030-01-01T00:00:00.000Z");

    // Attempt 1 fails: due again after 60 s × (1 − 0.5 × 0.5) = 45 s.
    let [claimed] = (await claim(db, { limit: 1, owner: "w", clock })) as [ClaimedMessage];
    expect(claimed.id).toBe(message.id);
    await markFailed(db, claimed.lease, "421 try later\nsecond line", policy, clock);
    let row = await statusOf(message.id);
    expect(row.status).toBe("queued");
    expect(new Date(row.next_retry_at as string).toISOString()).toBe("2030-01-01T00:00:45.000Z");
    expect(
      await claim(db, { limit: 1, owner: "w", clock: clockAt("2030-01-01T00:00:44.999Z") }),
    ).toEqual([]);

    // Attempt 2 fails at 00:01:00: due after 120 s × 0.75 = 90 s.
    clock = clockAt("2030-01-01T00:01:00.000Z");
    [claimed] = (await claim(db, { limit: 1, owner: "w", clock })) as [ClaimedMessage];
    expect(claimed.attempts).toBe(2);
    await markFailed(db, claimed.lease, "421 again", policy, clock);
    row = await statusOf(message.id);
    expect(new Date(row.next_retry_at as string).toISOString()).toBe("2030-01-01T00:02:30.000Z");

    // Attempt 3 is the last.
    clock = clockAt("2030-01-01T00:03:00.000Z");
    [claimed] = (await claim(db, { limit: 1, owner: "w", clock })) as [ClaimedMessage];
    await markFailed(db, claimed.lease, "550 no such user", policy, clock);
    row = await statusOf(message.id);
    expect(row).toMatchObject({
      status: "failed",
      attempts: 3,
      next_retry_at: null,
      lease_owner: null,
    });
    expect(row.error_log).toBe(
      "2030-01-01T00:00:00.000Z attempt 1: 421 try later second line\n" +
        "2030-01-01T00:01:00.000Z attempt 2: 421 again\n" +
        "2030-01-01T00:03:00.000Z attempt 3: 550 no such user\n",
    );
    expect(
      await claim(db, { limit: 1, owner: "w", clock: clockAt("2031-01-01T00:00:00.000Z") }),
    ).toEqual([]);
  });

  test("crash recovery: a stale lease is recovered, claimed again and sent once; the late owner is refused", async () => {
    await drain();
    const mailboxId = await newMailbox();
    const message = (
      await enqueue(db, mailboxId, { recipientEmail: "a@example.net", subject: "crash" })
    )[0]!;
    const t0 = clockAt("2030-02-01T00:00:00.000Z");
    const [first] = (await claim(db, { limit: 1, owner: "crashed-worker", clock: t0 })) as [
      ClaimedMessage,
    ];
    // The worker dies. Before the lease is old, nothing is recovered.
    expect(
      await recoverStale(db, { olderThanMs: 300_000, clock: clockAt("2030-02-01T00:04:59.000Z") }),
    ).toEqual({ requeued: [], failed: [], outcomeUnknown: [] });
    const recovered = await recoverStale(db, {
      olderThanMs: 300_000,
      clock: clockAt("2030-02-01T00:05:01.000Z"),
    });
    expect(recovered).toEqual({ requeued: [message.id], failed: [], outcomeUnknown: [] });
    expect((await statusOf(message.id)).error_log).toMatch(
      /attempt 1: lease of crashed-worker expired/,
    );

    const [second] = (await claim(db, {
      limit: 1,
      owner: "healthy-worker",
      clock: clockAt("2030-02-01T00:05:02.000Z"),
    })) as [ClaimedMessage];
    expect(second).toMatchObject({ id: message.id, attempts: 2 });
    // The first worker comes back to life: its lease is gone.
    await expect(markSent(db, first.lease)).rejects.toMatchObject({ code: "lease_lost" });
    await markSent(db, second.lease);
    expect(await statusOf(message.id)).toMatchObject({ status: "sent", attempts: 2 });
    await expect(markSent(db, first.lease)).rejects.toMatchObject({ code: "lease_lost" });

    // Recovery after the last attempt fails the row instead of retrying it forever.
    const last = (
      await enqueue(db, mailboxId, { recipientEmail: "b@example.net", subject: "doomed" })
    )[0]!;
    await db.execute(sql`UPDATE outbound_messages SET attempts = 4 WHERE id = ${last.id}`);
    await claim(db, { limit: 1, owner: "w", clock: t0 });
    expect(
      await recoverStale(db, {
        olderThanMs: 1000,
        leaseMs: 1000,
        maxAttempts: 5,
        clock: clockAt("2030-02-02T00:00:00.000Z"),
      }),
    ).toEqual({ requeued: [], failed: [last.id], outcomeUnknown: [] });
  });

  test("batch failure and finishing in one round trip each", async () => {
    await drain();
    const mailboxId = await newMailbox();
    await enqueue(
      db,
      mailboxId,
      Array.from({ length: 6 }, (_, i) => ({ recipientEmail: "a@example.net", subject: `m${i}` })),
    );
    const claimed = await claim(db, { limit: 6, owner: "w" });
    expect(claimed).toHaveLength(6);
    const errors = ["timeout", " \n\t ", "y".repeat(600)];
    const failed = await markFailedMany(
      db,
      claimed.slice(0, 3).map((m, i) => ({ ...m.lease, error: errors[i]! })),
    );
    // One line each: folded, bounded to 500 characters, never empty.
    const logs = await Promise.all(
      claimed.slice(0, 3).map(async (m) => (await statusOf(m.id)).error_log),
    );
    expect(logs.map((log) => log!.replace(/^\S+ /, ""))).toEqual([
      "attempt 1: timeout\n",
      "attempt 1: unknown error\n",
      `attempt 1: ${"y".repeat(500)}\n`,
    ]);
    expect(failed.finished.sort()).toEqual(
      claimed
        .slice(0, 3)
        .map((m) => m.id)
        .sort(),
    );
    const sent = await markSentMany(
      db,
      claimed.slice(3).map((m) => m.lease),
    );
    expect(sent.rejected).toEqual([]);
    const counts = rowsOf<{ status: string; n: number }>(
      await db.execute(
        sql`SELECT status, count(*)::int AS n FROM outbound_messages WHERE mailbox_id = ${mailboxId} GROUP BY status ORDER BY status`,
      ),
    );
    expect(counts).toEqual([
      { status: "queued", n: 3 },
      { status: "sent", n: 3 },
    ]);
  });

  test("the database refuses status changes outside the state machine, from any writer", async () => {
    const mailboxId = await newMailbox();
    const message = (
      await enqueue(db, mailboxId, { recipientEmail: "a@example.net", subject: "sm" })
    )[0]!;
    const attempt = (query: ReturnType<typeof sql>) =>
      db.execute(query).then(
        () => "accepted",
        () => "rejected",
      );
    expect(
      await attempt(
        sql`UPDATE outbound_messages SET status = 'sent', attempts = 1, sent_at = now() WHERE id = ${message.id}`,
      ),
    ).toBe("rejected");
    expect(
      await attempt(sql`UPDATE outbound_messages SET status = 'bounced' WHERE id = ${message.id}`),
    ).toBe("rejected");
    expect(
      await attempt(sql`UPDATE outbound_messages SET status = 'failed' WHERE id = ${message.id}`),
    ).toBe("rejected");
    expect(
      await attempt(
        sql`UPDATE outbound_messages SET subject = 'still queued' WHERE id = ${message.id}`,
      ),
    ).toBe("accepted");
    expect((await statusOf(message.id)).status).toBe("queued");
    // Refused by the state machine itself (the trigger's WHEN), named so, not by a CHECK.
    const refusal = await rejectionOf(
      db,
      sql`UPDATE outbound_messages SET status = 'failed' WHERE id = ${message.id}`,
    );
    expect(refusal.code).toBe("23514");
    expect(refusal.message).toMatch(/queued → failed is not a valid status change$/);
  });

  test("the state machine, every pair: allowed changes pass, the rest are refused by it by name", async () => {
    const mailboxId = await newMailbox();
    // Each status with the columns its CHECKs ask for, so only the state machine can refuse.
    const enter = {
      queued: sql`status = 'queued', processing_started_at = NULL, lease_renewed_at = NULL,
        lease_owner = NULL, sent_at = NULL, data_started_at = NULL, error_code = NULL`,
      processing: sql`status = 'processing', attempts = attempts + 1, processing_started_at = now(),
        lease_renewed_at = now(), lease_owner = 'matrix', next_retry_at = NULL`,
      sent: sql`status = 'sent', sent_at = now(), processing_started_at = NULL,
        lease_renewed_at = NULL, lease_owner = NULL`,
      failed: sql`status = 'failed', sent_at = NULL, processing_started_at = NULL,
        lease_renewed_at = NULL, lease_owner = NULL`,
      bounced: sql`status = 'bounced', processing_started_at = NULL, lease_renewed_at = NULL,
        lease_owner = NULL`,
    } as const;
    type Status = keyof typeof enter;
    const pathTo: Record<Status, Status[]> = {
      queued: [],
      processing: ["processing"],
      sent: ["processing", "sent"],
      failed: ["processing", "failed"],
      bounced: ["processing", "bounced"],
    };
    const allowed = new Set([
      "queued→processing",
      "processing→queued",
      "processing→sent",
      "processing→failed",
      "processing→bounced",
      "sent→bounced",
      "failed→queued",
    ]);
    const statuses = Object.keys(enter) as Status[];
    for (const from of statuses) {
      for (const to of statuses) {
        const [row] = await enqueue(db, mailboxId, {
          recipientEmail: `${from}-${to}@example.net`,
          subject: "matrix",
        });
        const id = row!.id;
        for (const step of pathTo[from])
          await db.execute(sql`UPDATE outbound_messages SET ${enter[step]} WHERE id = ${id}`);
        const change = sql`UPDATE outbound_messages SET ${enter[to]} WHERE id = ${id}`;
        if (from === to || allowed.has(`${from}→${to}`)) {
          await db.execute(change);
          expect((await statusOf(id)).status, `${from} → ${to}`).toBe(to);
        } else {
          const refusal = await rejectionOf(db, change);
          expect(refusal.message, `${from} → ${to}`).toMatch(
            new RegExp(`${from} → ${to} is not a valid status change$`),
          );
          expect((await statusOf(id)).status).toBe(from);
        }
      }
    }
    // No lease left behind for the recovery tests to find.
    await db.execute(
      sql`UPDATE outbound_messages SET ${enter.failed} WHERE mailbox_id = ${mailboxId} AND status = 'processing'`,
    );
  });

  test("updated_at is now() after every write: stamped by the queue's statements, forced on any other", async () => {
    await drain();
    const mailboxId = await newMailbox();
    const [message] = await enqueue(db, mailboxId, {
      recipientEmail: "u@example.net",
      subject: "u",
    });
    // Inside one transaction now() is fixed, so "is now()" is an equality.
    const stamped = async (tx: Database) =>
      rowsOf<{ stamped: boolean }>(
        await tx.execute(
          sql`SELECT updated_at = now() AS stamped FROM outbound_messages WHERE id = ${message!.id}`,
        ),
      )[0]!.stamped;
    const updatedAt = (query: ReturnType<typeof sql>) =>
      db.transaction(async (tx) => {
        await tx.execute(query);
        return stamped(tx);
      });
    expect(
      await updatedAt(
        sql`UPDATE outbound_messages SET subject = 'forged', updated_at = '2000-01-01' WHERE id = ${message!.id}`,
      ),
    ).toBe(true);
    expect(
      await updatedAt(
        sql`UPDATE outbound_messages SET subject = 'plain' WHERE id = ${message!.id}`,
      ),
    ).toBe(true);
    const stampedByClaim = await db.transaction(async (tx) => {
      const [held] = await claim(tx, { limit: 1, owner: "stamp" });
      expect(held?.id).toBe(message!.id);
      const byClaim = await stamped(tx);
      await markSent(tx, held!.lease);
      return byClaim;
    });
    expect(stampedByClaim).toBe(true);
  });

  test("on Postgres a claim is planned once, not on every call (its limit is in the text)", async () => {
    if (database.url === undefined) return; // PGlite runs unnamed statements: nothing is cached.
    await drain();
    const mailboxId = await newMailbox();
    // One connection (prepared statements and their plan counts are per connection), and a
    // backlog big enough that a generic plan with an unknown limit looks dear; rolled back.
    const rolledBack = new Error("rolled back");
    let plans: { generic: number; custom: number }[] = [];
    await db
      .transaction(async (tx) => {
        for (let i = 0; i < 5; i++)
          await enqueue(
            tx,
            mailboxId,
            Array.from({ length: 1000 }, (_, n) => ({
              recipientEmail: "p@example.net",
              subject: `p${n}`,
            })),
          );
        await tx.execute(sql`ANALYZE outbound_messages`);
        for (let i = 0; i < 12; i++) await claim(tx, { limit: 7, owner: "plans" });
        plans = rowsOf<{ generic: number; custom: number }>(
          await tx.execute(sql`
            SELECT generic_plans::int AS generic, custom_plans::int AS custom
            FROM pg_prepared_statements
            WHERE statement LIKE '%status = ''processing''%FOR UPDATE SKIP LOCKED%'
              AND (statement LIKE '%LIMIT 7%' OR statement ~ 'LIMIT [$][0-9]')`),
        );
        throw rolledBack;
      })
      .catch((error: unknown) => {
        if (error !== rolledBack && (error as { cause?: unknown }).cause !== rolledBack)
          throw error;
      });
    // Postgres tries custom plans for the first five executions, then keeps the generic one
    // unless it looks dearer; with the limit as a parameter it re-planned all twelve.
    expect(plans).toContainEqual({ generic: 7, custom: 5 });
  });
});

describe("lease renewal", () => {
  const at = (seconds: number) =>
    clockAt(new Date(Date.UTC(2030, 2, 1, 0, 0, seconds)).toISOString());

  test("a renewed lease outlives its first term; recovery takes it only once renewal stops", async () => {
    await drain();
    const mailboxId = await newMailbox();
    const [message] = await enqueue(db, mailboxId, {
      recipientEmail: "a@example.net",
      subject: "long",
    });
    const [held] = (await claim(db, { limit: 1, owner: "live", clock: at(0) })) as [ClaimedMessage];
    expect(await extendLeases(db, [held.lease], at(50))).toEqual({ extended: [held.id], lost: [] });
    // 70 s after the claim but 20 s after the renewal: the lease is live.
    expect(await recoverStale(db, { olderThanMs: 60_000, clock: at(70) })).toEqual({
      requeued: [],
      failed: [],
      outcomeUnknown: [],
    });
    expect(await extendLeases(db, [held.lease], at(100))).toEqual({
      extended: [held.id],
      lost: [],
    });
    expect(await recoverStale(db, { olderThanMs: 60_000, clock: at(159) })).toEqual({
      requeued: [],
      failed: [],
      outcomeUnknown: [],
    });
    expect(await recoverStale(db, { olderThanMs: 60_000, clock: at(161) })).toEqual({
      requeued: [message!.id],
      failed: [],
      outcomeUnknown: [],
    });
  });

  test("renewal is fenced: never another worker's lease, never a finished row", async () => {
    await drain();
    const mailboxId = await newMailbox();
    await enqueue(db, mailboxId, { recipientEmail: "a@example.net", subject: "fenced" });
    const [first] = (await claim(db, { limit: 1, owner: "slow", clock: at(0) })) as [
      ClaimedMessage,
    ];
    await recoverStale(db, { olderThanMs: 60_000, clock: at(61) });
    const [second] = (await claim(db, { limit: 1, owner: "fast", clock: at(62) })) as [
      ClaimedMessage,
    ];
    expect(second).toMatchObject({ id: first.id, attempts: 2 });
    const renewedAt = async () =>
      rowsOf<{ t: string | null }>(
        await db.execute(
          sql`SELECT lease_renewed_at::text AS t FROM outbound_messages WHERE id = ${first.id}`,
        ),
      )[0]!.t;
    const before = await renewedAt();
    // The old holder, the right owner with an old attempt, and a stranger are all refused.
    for (const lease of [
      first.lease,
      { ...second.lease, attempt: 1 },
      { ...second.lease, owner: "slow" },
    ]) {
      expect(await extendLeases(db, [lease], at(63))).toEqual({ extended: [], lost: [first.id] });
    }
    expect(await renewedAt()).toBe(before);
    expect(await extendLeases(db, [second.lease], at(64))).toEqual({
      extended: [second.id],
      lost: [],
    });
    expect(await renewedAt()).not.toBe(before);
    await markSent(db, second.lease);
    expect(await extendLeases(db, [second.lease], at(65))).toEqual({
      extended: [],
      lost: [second.id],
    });
    expect(await statusOf(second.id)).toMatchObject({ status: "sent", lease_owner: null });
    expect(await renewedAt()).toBeNull();
  });

  test("a lost lease whose DATA had begun is failed as outcome_unknown, never queued again", async () => {
    await drain();
    const mailboxId = await newMailbox();
    const [message] = await enqueue(db, mailboxId, {
      recipientEmail: "a@example.net",
      subject: "data",
    });
    const [held] = (await claim(db, { limit: 1, owner: "died-in-data", clock: at(0) })) as [
      ClaimedMessage,
    ];
    await markDataStarted(db, [held.lease], at(1));
    expect(await recoverStale(db, { olderThanMs: 60_000, clock: at(62) })).toEqual({
      requeued: [],
      failed: [message!.id],
      outcomeUnknown: [message!.id],
    });
    const row = await statusOf(message!.id);
    expect(row).toMatchObject({ status: "failed", lease_owner: null });
    expect(row.error_log).toMatch(/lease of died-in-data expired .*after DATA began/);
    expect(await claim(db, { limit: 1, owner: "next", clock: at(3600) })).toEqual([]);
  });

  test("recovery refuses an age below the lease (it would take live leases)", async () => {
    await expect(recoverStale(db, { olderThanMs: 59_999 })).rejects.toMatchObject({
      code: "invalid_input",
    });
    await expect(recoverStale(db, { olderThanMs: 500, leaseMs: 1000 })).rejects.toMatchObject({
      code: "invalid_input",
    });
  });
});

describe("releaseMany", () => {
  test("returns prefetched, unhandled messages to the queue with the attempt not counted", async () => {
    await drain();
    const mailboxId = await newMailbox();
    await enqueue(db, mailboxId, [{ recipientEmail: "a@example.net", subject: "prefetched" }]);
    const [claimed] = await claim(db, { limit: 1, owner: "stopping" });
    expect(await releaseMany(db, [{ ...claimed!.lease, owner: "other" }])).toEqual({
      finished: [],
      rejected: [claimed!.id],
    });
    expect(await releaseMany(db, [claimed!.lease])).toEqual({
      finished: [claimed!.id],
      rejected: [],
    });
    expect(await statusOf(claimed!.id)).toMatchObject({
      status: "queued",
      attempts: 0,
      lease_owner: null,
    });
    const [again] = await claim(db, { limit: 1, owner: "next" });
    expect(again).toMatchObject({ id: claimed!.id, attempts: 1 });
    await markSent(db, again!.lease);
  });
});

/** Many workers over separate connections (Postgres) or one shared PGlite connection. */
describe("exactly-once claiming under concurrency", () => {
  const postgresUrl = process.env.DATABASE_URL ? database?.url : undefined;
  const messages = process.env.DATABASE_URL ? 10_000 : 1_000;
  const workers = 16;

  test(`${messages} messages, ${workers} concurrent claimers: each claimed once, none lost, all sent`, async () => {
    await drain();
    const mailboxId = await newMailbox();
    for (let offset = 0; offset < messages; offset += 1000) {
      await enqueue(
        db,
        mailboxId,
        Array.from({ length: Math.min(1000, messages - offset) }, (_, i) => ({
          recipientEmail: "bulk@example.net",
          subject: `bulk ${offset + i}`,
        })),
      );
    }
    const url = database.url ?? postgresUrl;
    const handles = url
      ? await Promise.all(
          Array.from({ length: workers }, () =>
            openDatabase({ kind: "postgres", url, maxConnections: 1 }),
          ),
        )
      : [];
    const claimedBy = new Map<string, number>();
    let duplicates = 0;
    try {
      await Promise.all(
        Array.from({ length: workers }, async (_, worker) => {
          const workerDb = handles[worker]?.db ?? db;
          for (;;) {
            const batch = await claim(workerDb, { limit: 25, owner: `worker-${worker}` });
            if (batch.length === 0) return;
            for (const message of batch) {
              if (claimedBy.has(message.id)) duplicates += 1;
              claimedBy.set(message.id, worker);
            }
            const result = await markSentMany(
              workerDb,
              batch.map((m) => m.lease),
            );
            expect(result.rejected).toEqual([]);
          }
        }),
      );
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
    expect(duplicates).toBe(0);
    expect(claimedBy.size).toBe(messages);
    const counts = rowsOf<{ status: string; n: number; max_attempts: number }>(
      await db.execute(
        sql`SELECT status, count(*)::int AS n, max(attempts)::int AS max_attempts FROM outbound_messages WHERE mailbox_id = ${mailboxId} GROUP BY status`,
      ),
    );
    expect(counts).toEqual([{ status: "sent", n: messages, max_attempts: 1 }]);
    if (url) expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);
  });
});
