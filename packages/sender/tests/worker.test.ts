import { type Database, rowsOf, sql } from "@imap-proxy/db";
import { enqueue } from "@imap-proxy/db/queue";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runWorker } from "../src/index.ts";
import { newMailbox } from "./helpers.ts";

let database: TestDatabase;
let db: Database;

beforeAll(async () => {
  database = await openTestDatabase();
  db = database.db;
});
afterAll(async () => {
  await database?.close();
});

describe("runWorker", () => {
  test("feeds local handlers from batched claims and records every outcome, none lost", async () => {
    const mailboxId = await newMailbox(db);
    await enqueue(
      db,
      mailboxId,
      Array.from({ length: 300 }, (_, i) => ({
        recipientEmail: "w@example.net",
        subject: String(i),
      })),
    );
    const seen = new Set<string>();
    let running = 0;
    let maxRunning = 0;
    const report = await runWorker({
      db,
      owner: "runner",
      concurrency: 8,
      batchSize: 32,
      stopWhenEmpty: true,
      policy: { maxAttempts: 1, baseDelayMs: 1000, maxDelayMs: 1000, jitter: 0 },
      handler: async (message) => {
        expect(seen.has(message.id)).toBe(false);
        seen.add(message.id);
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 1));
        running -= 1;
        const n = Number(message.subject);
        if (n % 10 === 0) throw new Error(`handler failed on ${n}`);
        return n % 10 === 1 ? "bounced" : "sent";
      },
    });
    expect(report).toEqual({ processed: 300, leaseLost: 0, released: 0 });
    expect(maxRunning).toBeGreaterThan(1);
    expect(maxRunning).toBeLessThanOrEqual(8);
    const counts = rowsOf<{ status: string; n: number }>(
      await db.execute(
        sql`SELECT status, count(*)::int AS n FROM outbound_messages WHERE mailbox_id = ${mailboxId} GROUP BY status ORDER BY status`,
      ),
    );
    expect(counts).toEqual([
      { status: "sent", n: 240 },
      { status: "failed", n: 30 },
      { status: "bounced", n: 30 },
    ]);
    const log = rowsOf<{ error_log: string }>(
      await db.execute(
        sql`SELECT error_log FROM outbound_messages WHERE mailbox_id = ${mailboxId} AND subject = '20'`,
      ),
    )[0]!.error_log;
    expect(log).toMatch(/attempt 1: handler failed on 20\n$/);
  });

  test("runWorker stopped by its signal releases what it had prefetched", async () => {
    const mailboxId = await newMailbox(db);
    await enqueue(
      db,
      mailboxId,
      Array.from({ length: 40 }, (_, i) => ({ recipientEmail: "s@example.net", subject: `s${i}` })),
    );
    const controller = new AbortController();
    const report = await runWorker({
      db,
      owner: "stopper",
      concurrency: 1,
      batchSize: 20,
      signal: controller.signal,
      handler: () => {
        controller.abort();
        return Promise.resolve("sent" as const);
      },
    });
    expect(report.processed).toBe(1);
    const counts = rowsOf<{ status: string; n: number; max: number }>(
      await db.execute(
        sql`SELECT status, count(*)::int AS n, max(attempts)::int AS max FROM outbound_messages WHERE mailbox_id = ${mailboxId} GROUP BY status ORDER BY status`,
      ),
    );
    expect(counts).toEqual([
      { status: "queued", n: 39, max: 0 },
      { status: "sent", n: 1, max: 1 },
    ]);
  });
});
