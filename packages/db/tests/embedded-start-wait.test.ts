import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import {
  type DatabaseHandle,
  migrate,
  openDatabase,
  rowsOf,
  shareEmbeddedDatabase,
  sql,
} from "../src/index.ts";

// The embedded database only: there is no lock or socket on Postgres.
const onPostgres = Boolean(process.env.DATABASE_URL);
const dataDir = mkdtempSync(path.join(tmpdir(), "imap-proxy-start-wait-"));
const handles: DatabaseHandle[] = [];
afterAll(async () => {
  for (const handle of handles.reverse()) await handle.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test.skipIf(onPostgres)(
  "a command beside a starting server waits for its socket past the lock wait, then connects",
  async () => {
    // A server that has taken the lock and is still starting (migrating, not yet sharing).
    const server = await openDatabase({ kind: "pglite", dataDir }, { role: "server" });
    handles.push(server);
    await migrate(server);
    const started = Date.now();
    let settled = false;
    const client = openDatabase({ kind: "pglite", dataDir, lockWaitMs: 200 }).finally(() => {
      settled = true;
    });
    client.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Well past its 200 ms lock wait, the command is still waiting for the server.
    expect(settled).toBe(false);
    const shared = await shareEmbeddedDatabase(server, { graceMs: 1_000 });
    const connected = await client;
    handles.push(connected);
    expect(connected.driver).toBe("postgres-js");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    const [row] = rowsOf<{ n: number }>(await connected.db.execute(sql`SELECT 1 AS n`));
    expect(Number(row!.n)).toBe(1);
    await connected.close();
    handles.pop();

    // A server that holds the lock but does not share is waited for only up to the start bound.
    await shared.stop();
    const attempt = openDatabase(
      { kind: "pglite", dataDir, lockWaitMs: 100 },
      { serverStartWaitMs: 700 },
    );
    const refused = await attempt.then(
      () => undefined,
      (error: Error) => error,
    );
    expect(refused).toMatchObject({ code: "database_busy" });
    expect(refused?.message).toMatch(
      /held by an imap-proxy server \(pid \d+\) that has not started sharing/,
    );
  },
  120_000,
);

test.skipIf(onPostgres)(
  "a command holding the lock is waited for only IMAP_PROXY_LOCK_WAIT_MS",
  async () => {
    const other = mkdtempSync(path.join(tmpdir(), "imap-proxy-start-wait-"));
    const holder = await openDatabase({ kind: "pglite", dataDir: other });
    try {
      const refused = await openDatabase({ kind: "pglite", dataDir: other, lockWaitMs: 200 }).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(refused).toMatchObject({ code: "database_busy" });
      expect(refused?.message).toMatch(/in use by another imap-proxy process/);
    } finally {
      await holder.close();
      rmSync(other, { recursive: true, force: true });
    }
  },
  120_000,
);
