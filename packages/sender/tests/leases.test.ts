import { type Database, sql } from "@imap-proxy/db";
import { recoverStale } from "@imap-proxy/db/queue";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runWorker } from "../src/index.ts";
import { queueMessages, rowsByMailbox } from "./helpers.ts";

let database: TestDatabase;
let db: Database;

beforeAll(async () => {
  database = await openTestDatabase();
  db = database.db;
});
afterAll(async () => {
  await database?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every message reached the handler once, and every row is `sent` on its first attempt. */
async function expectEachHandledOnceAndSentAtFirstAttempt(
  mailboxId: string,
  ids: string[],
  calls: string[],
) {
  expect(calls.toSorted()).toEqual(ids.toSorted());
  const rows = [...(await rowsByMailbox(db, mailboxId)).values()];
  expect(rows.map((r) => `${r.status} ${r.attempts}`)).toEqual(ids.map(() => "sent 1"));
}

describe("leases a live worker never loses", () => {
  // Leases of 3 s, not less: PGlite runs in this process, so its statements delay the renewal
  // timers; a lease is given up after 2 s without a confirmed renewal, a margin no stall reaches.
  test("2 workers, 300 ms handlers, recovery every 100 ms at leaseMs 3000: every message handled exactly once", async () => {
    const { mailboxId, ids } = await queueMessages(db, 20);
    const deliveries = new Map<string, number>();
    const stop = new AbortController();
    // The adversary: recovery as eager as the rule allows, far more often than the workers run it.
    const recoveries = (async () => {
      while (!stop.signal.aborted) {
        await recoverStale(db, { olderThanMs: 3000, leaseMs: 3000 });
        await sleep(100);
      }
    })();
    const worker = (owner: string) =>
      runWorker({
        db,
        owner,
        concurrency: 1,
        leaseMs: 3000,
        signal: stop.signal,
        idleMs: 50,
        policy: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 10, jitter: 0 },
        // A sender's shape: the envelope, then DATA only while the lease is still held.
        handler: async (message, { signal }) => {
          await sleep(150);
          signal.throwIfAborted();
          deliveries.set(message.id, (deliveries.get(message.id) ?? 0) + 1);
          if (deliveries.size === ids.length) stop.abort();
          await sleep(150);
          return "sent";
        },
      });
    await Promise.all([worker("worker-a"), worker("worker-b")]);
    await recoveries;
    expect([...deliveries.values()].filter((n) => n !== 1)).toEqual([]);
    expect(new Set(deliveries.keys())).toEqual(new Set(ids));
    const rows = await rowsByMailbox(db, mailboxId);
    expect([...rows.values()].map((r) => r.status)).toEqual(ids.map(() => "sent"));
  });

  test("a handler whose lease is revoked under it sees signal.aborted before it finishes", async () => {
    const { mailboxId, ids } = await queueMessages(db, 1);
    const seen: { attempt: number; aborted: boolean; reason: string | undefined }[] = [];
    // A recovery that wrongly takes the live lease (its clock a minute ahead).
    const revoke = () =>
      recoverStale(db, {
        olderThanMs: 600,
        leaseMs: 600,
        clock: { now: () => new Date(Date.now() + 60_000) },
      });
    const report = await runWorker({
      db,
      owner: "revoked",
      concurrency: 1,
      leaseMs: 600,
      stopWhenEmpty: true,
      handler: async (message, { signal }) => {
        if (message.attempts === 1) {
          expect(await revoke()).toEqual({ requeued: ids, failed: [], outcomeUnknown: [] });
          // A sender waiting on its server stops as soon as the signal says so.
          await new Promise((resolve) => {
            signal.addEventListener("abort", resolve);
            setTimeout(resolve, 10_000);
          });
        }
        seen.push({
          attempt: message.attempts,
          aborted: signal.aborted,
          reason: (signal.reason as { code?: string } | undefined)?.code,
        });
        return "sent";
      },
    });
    expect(seen).toEqual([
      { attempt: 1, aborted: true, reason: "lease_lost" },
      { attempt: 2, aborted: false, reason: undefined },
    ]);
    // The first attempt's "sent" was refused by the fence; the second one's is the record.
    expect(report).toEqual({ processed: 2, leaseLost: 1, released: 0 });
    expect((await rowsByMailbox(db, mailboxId)).get(ids[0]!)).toMatchObject({
      status: "sent",
      attempts: 2,
    });
  });

  test("a claim the database lost (a crash after its asynchronous commit) and handed to the same worker again: one handler, recorded once", async () => {
    const { mailboxId, ids } = await queueMessages(db, 1);
    const id = ids[0]!;
    const stop = new AbortController();
    let calls = 0;
    let deliveries = 0;
    const status = async () => (await rowsByMailbox(db, mailboxId)).get(id)!.status;
    const report = await runWorker({
      db,
      owner: "forgotten",
      concurrency: 2,
      idleMs: 20,
      signal: stop.signal,
      handler: async (_message, { beginData }) => {
        calls += 1;
        if (calls === 1) {
          // What a crash that lost the claim's commit leaves: the row as it was before it.
          await db.execute(sql`
            UPDATE outbound_messages SET status = 'queued', attempts = attempts - 1,
              processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
            WHERE id = ${id}`);
          // The idle slot claims it again: the same owner, the same attempt, the same lease.
          const deadline = Date.now() + 10_000;
          while ((await status()) !== "processing" && Date.now() < deadline) await sleep(20);
          await sleep(200);
        }
        if (await beginData()) deliveries += 1;
        stop.abort();
        return "sent";
      },
    });
    expect({ calls, deliveries }).toEqual({ calls: 1, deliveries: 1 });
    expect(report).toMatchObject({ processed: 1, leaseLost: 0 });
    expect((await rowsByMailbox(db, mailboxId)).get(id)).toMatchObject({
      status: "sent",
      attempts: 1,
    });
  });

  test("prefetched messages that wait too long are released, then handled once", async () => {
    const { mailboxId, ids } = await queueMessages(db, 8);
    const calls: string[] = [];
    const report = await runWorker({
      db,
      owner: "slow",
      concurrency: 1,
      batchSize: 8,
      // Renewed (and the waiting checked) every second: a few of the 8 are still waiting then.
      leaseMs: 3000,
      prefetchWaitMs: 200,
      stopWhenEmpty: true,
      handler: async (message) => {
        calls.push(message.id);
        await sleep(250);
        return "sent";
      },
    });
    expect(report.released).toBeGreaterThan(0);
    // Released claims do not count as attempts.
    await expectEachHandledOnceAndSentAtFirstAttempt(mailboxId, ids, calls);
  });

  test("prefetched messages whose lease was given up (the process stalled past it) go back unused, then handled once", async () => {
    const { mailboxId, ids } = await queueMessages(db, 4);
    const calls: string[] = [];
    const report = await runWorker({
      db,
      owner: "stalled",
      concurrency: 1,
      batchSize: 4,
      leaseMs: 3000,
      stopWhenEmpty: true,
      handler: async (message) => {
        calls.push(message.id);
        if (calls.length === 1) {
          await sleep(20);
          // The event loop blocked for longer than a lease is kept unconfirmed (2 s of 3 s):
          // every lease here is given up locally, while the rows are still this worker's.
          const until = performance.now() + 2300;
          while (performance.now() < until) {
            // the stall itself: nothing runs meanwhile, timers included
          }
          await sleep(100);
        }
        return "sent";
      },
    });
    // The three never started went back (fenced: still ours) instead of waiting for recovery.
    expect(report.released).toBe(3);
    await expectEachHandledOnceAndSentAtFirstAttempt(mailboxId, ids, calls);
  });

  test("stopping lets running handlers finish and releases the rest", async () => {
    const { mailboxId } = await queueMessages(db, 10);
    const stop = new AbortController();
    let started = 0;
    let finished = 0;
    const report = await runWorker({
      db,
      owner: "stopping",
      concurrency: 2,
      batchSize: 10,
      signal: stop.signal,
      handler: async () => {
        // Stop while both handlers are running.
        if (++started === 2) stop.abort();
        await sleep(200);
        finished += 1;
        return "sent";
      },
    });
    expect(finished).toBe(2);
    expect(report).toEqual({ processed: 2, leaseLost: 0, released: 8 });
    const rows = [...(await rowsByMailbox(db, mailboxId)).values()];
    expect(rows.filter((r) => r.status === "sent")).toHaveLength(2);
    expect(rows.filter((r) => r.status === "queued" && r.attempts === 0)).toHaveLength(8);
  });
});
