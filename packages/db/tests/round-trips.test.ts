import { afterAll, expect, test } from "vitest";
import { type DatabaseHandle, openDatabase, rowsOf, sql } from "../src/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { type RoundTripCounter, startRoundTripCounter } from "@imap-proxy/testing/postgres-wire";

let database: TestDatabase | undefined;
let counter: RoundTripCounter | undefined;
let handle: DatabaseHandle | undefined;
afterAll(async () => {
  await handle?.close();
  await counter?.close();
  await database?.close();
});

// Unnamed, a statement with parameters is described before it runs: two round trips each.
test.skipIf(!process.env.DATABASE_URL)(
  "on Postgres a statement with parameters costs one round trip, alone or in a transaction",
  async () => {
    database = await openTestDatabase();
    counter = await startRoundTripCounter(database.url!);
    handle = await openDatabase({ kind: "postgres", url: counter.url, maxConnections: 1 });
    const db = handle.db;
    const select = async (n: number) =>
      rowsOf<{ n: number }>(await db.execute(sql`SELECT ${n}::int + 1 AS n`))[0]!.n;
    expect(await select(1)).toBe(2); // the connection's first use prepares it
    counter.reset();
    for (let n = 0; n < 10; n++) expect(await select(n)).toBe(n + 1);
    expect(counter.count()).toBe(10);

    await db.transaction(async (tx) => tx.execute(sql`SELECT ${1}::int`));
    counter.reset();
    await db.transaction(async (tx) => {
      await tx.execute(sql`SELECT ${2}::int`);
      await tx.execute(sql`SELECT ${3}::int`);
    });
    // BEGIN, two statements, COMMIT.
    expect(counter.count()).toBe(4);
  },
);
