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
import { type TestPki, makeTestPki } from "@imap-proxy/testing/pki";
import { type FaultServer, startFaultServer } from "@imap-proxy/testing/smtp-faults";
import { afterAll, expect, test } from "vitest";
import { SendHandler, runWorker } from "../src/index.ts";
import { until } from "./helpers.ts";
import { FERNET_KEY, composed, keyring, peerMailbox, submit } from "./send-helpers.ts";

// kill -9 of a sending worker process while a real SMTP server is slow to answer the final
// `.`: no message is lost, queued forever or delivered twice.
const LEASE_MS = 2000;
const COUNT = 12;

const postgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== "";
const dataDir = postgres ? undefined : mkdtempSync(path.join(tmpdir(), "imap-proxy-crash-send-"));
let testDatabase: TestDatabase | undefined;
let handle: DatabaseHandle | undefined;
let child: ChildProcess | undefined;
let sink: FaultServer | undefined;
let pki: TestPki;

afterAll(async () => {
  child?.kill("SIGKILL");
  await sink?.close();
  if (postgres) await testDatabase?.close();
  else await handle?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

const messageIdOf = (raw: Buffer) => /^Message-ID: (\S+)\r$/m.exec(raw.toString("latin1"))![1]!;

test("kill -9 mid-batch: each message ends sent exactly once or outcome_unknown (delivered at most once); none lost or stuck", async () => {
  pki = makeTestPki();
  // Slow after the final `.`: at any moment a send is likely between its body and the reply.
  // 1.5 s: the kill below lands inside that wait even on a loaded machine.
  sink = await startFaultServer(pki, { dataDelayMs: 1500 });
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
  const mailbox = await peerMailbox(setup.db, sink.port, { maxConnections: 2 });
  const rowToMessageId = new Map<string, string>();
  for (let n = 0; n < COUNT; n++) {
    const raw = composed(mailbox.email, "rcpt@example.net", n);
    const { rowIds } = await submit(setup.db, mailbox, ["rcpt@example.net"], raw);
    rowToMessageId.set(rowIds[0]!, messageIdOf(raw));
  }
  if (!postgres) await setup.close();

  const worker = spawn(process.execPath, ["--import", "tsx", "tests/fixtures/send-worker.ts"], {
    cwd: path.join(import.meta.dirname, ".."),
    env: {
      ...process.env,
      SEND_WORKER_TARGET: JSON.stringify(target),
      SEND_WORKER_KEY: FERNET_KEY,
      SEND_WORKER_CA: pki.caPem,
      SEND_WORKER_LEASE_MS: String(LEASE_MS),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child = worker;
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  // Killed right after the server took in a third body: that send waits for its reply.
  await until(() => sink!.received.length >= 3, 120_000);
  worker.kill("SIGKILL");
  await exited;
  const inFlight = messageIdOf(sink.received[2]!.raw);
  sink.setPlan({});
  const receivedBeforeKill = sink.received.length;
  expect(receivedBeforeKill).toBeLessThan(COUNT);

  if (!postgres) {
    // The killed process's lock on the data directory is released by hand, as an operator would.
    rmSync(path.join(dataDir!, "pglite.lock"), { recursive: true, force: true });
    handle = await openDatabase(target);
  } else handle = testDatabase!;
  const db = handle.db;
  const unfinished = async () =>
    rowsOf<{ n: number }>(
      await db.execute(
        sql`SELECT count(*)::int AS n FROM outbound_messages WHERE status IN ('queued', 'processing')`,
      ),
    )[0]!.n;
  // A second worker: it recovers the dead one's leases itself, then sends what is left.
  const stop = new AbortController();
  const handler = new SendHandler({ db, keyring, smtp: { extraCa: pki.caPem, timeoutMs: 10_000 } });
  const startedAt = Date.now();
  const survivor = runWorker({
    db,
    owner: "survivor",
    concurrency: 2,
    leaseMs: LEASE_MS,
    idleMs: 100,
    signal: stop.signal,
    handler: handler.handle,
  });
  try {
    for (;;) {
      if ((await unfinished()) === 0) break;
      // Not queued forever: a few lease periods at most (generous for a loaded machine).
      expect(Date.now() - startedAt).toBeLessThan(60_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    stop.abort();
    await survivor;
    handler.close();
  }

  const rows = rowsOf<{ id: string; status: string; error_code: string | null; log: string }>(
    await db.execute(
      sql`SELECT id, status, error_code, coalesce(error_log, '') AS log FROM outbound_messages`,
    ),
  );
  const receipts = new Map<string, number>();
  for (const message of sink.received) {
    const id = messageIdOf(message.raw);
    receipts.set(id, (receipts.get(id) ?? 0) + 1);
  }
  // Nothing delivered twice, nothing delivered that is not a row.
  expect([...receipts.values()].filter((n) => n !== 1)).toEqual([]);
  expect(rows).toHaveLength(COUNT);
  for (const row of rows) {
    const delivered = receipts.get(rowToMessageId.get(row.id)!) ?? 0;
    if (row.status === "sent") expect(delivered, row.id).toBe(1);
    else {
      // The body may have reached the server: never sent again by itself.
      expect(row, row.id).toMatchObject({ status: "failed", error_code: "outcome_unknown" });
      expect(delivered).toBeLessThanOrEqual(1);
      expect(row.log).toMatch(/lease of doomed expired/);
    }
  }
  // The send the kill interrupted between its body and the reply is one of those.
  const interrupted = rows.find((row) => rowToMessageId.get(row.id) === inFlight)!;
  expect(interrupted).toMatchObject({ status: "failed", error_code: "outcome_unknown" });
  // The rest were sent by the second worker, after the first one's leases were recovered.
  expect(rows.filter((row) => row.status === "sent").length).toBeGreaterThanOrEqual(
    COUNT - receivedBeforeKill - 2,
  );
}, 300_000);
