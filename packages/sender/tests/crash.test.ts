import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type DatabaseHandle,
  type DatabaseTarget,
  migrate,
  openDatabase,
  rowsOf,
  sql,
} from "@imap-proxy/db";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { afterAll, expect, test } from "vitest";
import { runWorker } from "../src/index.ts";
import { queueMessages, rowsByMailbox, until } from "./helpers.ts";

const LEASE_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Postgres: a database both processes use at once. Embedded PGlite is one process at a time:
// the worker process uses a data directory, and the survivor opens it after the kill.
const postgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== "";
const dataDir = postgres ? undefined : mkdtempSync(path.join(tmpdir(), "imap-proxy-crash-"));
let testDatabase: TestDatabase | undefined;
let child: ChildProcess | undefined;
const stop = new AbortController();
let survivor: Promise<unknown> | undefined;

afterAll(async () => {
  child?.kill("SIGKILL");
  stop.abort();
  await survivor?.catch(() => {});
  await testDatabase?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

async function openSurvivor(): Promise<DatabaseHandle> {
  if (testDatabase !== undefined) return testDatabase;
  return openDatabase({ kind: "pglite", dataDir: dataDir! });
}

test("a worker killed with kill -9 mid-handler: its messages are recovered after the lease and handled once by another", async () => {
  let target: DatabaseTarget;
  let setup: DatabaseHandle;
  if (postgres) {
    testDatabase = await openTestDatabase();
    setup = testDatabase;
    target = { kind: "postgres", url: testDatabase.url!, maxConnections: 2 };
  } else {
    setup = await openDatabase({ kind: "pglite", dataDir: dataDir! });
    await migrate(setup);
    target = { kind: "pglite", dataDir: dataDir! };
  }
  const { mailboxId, ids } = await queueMessages(setup.db, 6);
  if (!postgres) await setup.close();

  const started: string[] = [];
  const worker = spawn(process.execPath, ["--import", "tsx", "tests/fixtures/crash-worker.ts"], {
    cwd: path.join(import.meta.dirname, ".."),
    env: {
      ...process.env,
      CRASH_WORKER_TARGET: JSON.stringify(target),
      CRASH_WORKER_LEASE_MS: String(LEASE_MS),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child = worker;
  worker.stdout.setEncoding("utf8");
  worker.stdout.on("data", (chunk: string) => {
    for (const match of chunk.matchAll(/^started (\S+)$/gm)) started.push(match[1]!);
  });
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  await until(() => started.length === 2, 60_000);

  const handled: string[] = [];
  const runSurvivor = (handle: DatabaseHandle) =>
    runWorker({
      db: handle.db,
      owner: "survivor",
      concurrency: 2,
      leaseMs: LEASE_MS,
      idleMs: 100,
      signal: stop.signal,
      handler: (message) => {
        handled.push(message.id);
        if (handled.length >= ids.length) stop.abort();
        return Promise.resolve("sent" as const);
      },
    });
  let handle: DatabaseHandle | undefined;
  let claimedByChild: string[] | undefined;
  if (postgres) {
    handle = await openSurvivor();
    claimedByChild = rowsOf<{ id: string }>(
      await handle.db.execute(
        sql`SELECT id FROM outbound_messages WHERE lease_owner = 'doomed' ORDER BY id`,
      ),
    ).map((row) => row.id);
    expect(claimedByChild).toHaveLength(4); // 2 running, 2 prefetched
    // Both alive: past a whole lease, the survivor has taken nothing the other is running
    // (its prefetched ones it may have released by then).
    survivor = runSurvivor(handle);
    await sleep(LEASE_MS * 1.5);
    expect(handled.filter((id) => started.includes(id))).toEqual([]);
    expect(handled.length).toBeGreaterThanOrEqual(2);
  }
  worker.kill("SIGKILL");
  await exited;
  if (!postgres) {
    // The killed process's lock on the data directory is released by hand, as an operator would.
    rmSync(path.join(dataDir!, "pglite.lock"), { recursive: true, force: true });
    handle = await openSurvivor();
    survivor = runSurvivor(handle);
  }
  await survivor;

  expect(handled.toSorted()).toEqual(ids.toSorted());
  const rows = [...(await rowsByMailbox(handle!.db, mailboxId)).values()];
  expect(rows.map((row) => row.status)).toEqual(ids.map(() => "sent"));
  const recovered = rows.filter((row) =>
    /attempt 1: lease of doomed expired/.test(row.error_log ?? ""),
  );
  expect(recovered.map((row) => row.attempts)).toEqual(recovered.map(() => 2));
  const recoveredIds = recovered.map((row) => row.id).toSorted();
  expect(recoveredIds).toEqual(expect.arrayContaining(started));
  if (claimedByChild !== undefined)
    expect(claimedByChild).toEqual(expect.arrayContaining(recoveredIds));
  if (!postgres) await handle!.close();
}, 300_000); // two processes each opening a database (slow on a loaded machine)
