import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { FernetKey, Keyring } from "@imap-proxy/crypto";
import { type Database, rowsOf, sql } from "@imap-proxy/db";
import { peerMailbox } from "@imap-proxy/testing/mailbox";
import { type TestPki, makeTestPki } from "@imap-proxy/testing/pki";
import { type FaultServer, startFaultServer } from "@imap-proxy/testing/smtp-faults";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CliWorld, cliBundle, openCliWorld, runBuiltCli } from "./support.ts";

// `imap-proxy worker` as an operator runs it: the built CLI, its own processes, on Postgres.
const postgres = Boolean(process.env.DATABASE_URL);

let world: CliWorld;
let pki: TestPki;
let env: NodeJS.ProcessEnv;
const sinks: FaultServer[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  world = await openCliWorld();
  pki = makeTestPki();
  const caFile = path.join(pki.dir, "trusted-ca.pem");
  writeFileSync(caFile, pki.caPem);
  env = { ...world.env, SMTP_CA_FILE: caFile };
}, 60_000);
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  for (const sink of sinks) await sink.close();
  await world?.close();
});

/** A mailbox sending through `port` (STARTTLS, the test credentials), sealed with the CLI's key. */
function mailboxOn(db: Database, port: number, maxConnections = 1) {
  return peerMailbox(db, new Keyring([FernetKey.parse(world.fernetKey)]), {
    email: `sender-${Math.random().toString(36).slice(2)}@example.com`,
    smtpPort: port,
    maxConnections,
  });
}

/** Queues one message per recipient (one statement each): a unique Message-ID per message. */
async function queue(db: Database, mailbox: { id: string; email: string }, recipients: string[]) {
  for (const [n, to] of recipients.entries()) {
    const id = crypto.randomUUID();
    const raw = Buffer.from(
      `From: ${mailbox.email}\r\nTo: ${to}\r\nSubject: m${n}\r\nMessage-ID: <${id}@example.com>\r\n\r\nBody ${n}.\r\n`,
    );
    await db.execute(sql`
      WITH m AS (
        INSERT INTO messages (id, mailbox_id, message_id_header, envelope_from, subject)
        VALUES (${id}, ${mailbox.id}, ${`<${id}@example.com>`}, ${mailbox.email}, 'm') RETURNING id
      ), b AS (
        INSERT INTO message_bodies (message_id, raw, size_bytes, request_sha256)
        SELECT id, ${raw}, ${raw.length}, ${Buffer.alloc(32)} FROM m
      )
      INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
      SELECT ${mailbox.id}, id, ${to}, 'm' FROM m`);
  }
}

function startWorker(concurrency: number) {
  const child = spawn(
    process.execPath,
    [cliBundle, "worker", "--concurrency", String(concurrency)],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, output, exited };
}

async function countBy(db: Database) {
  const rows = rowsOf<{ status: string; attempts: number; n: number }>(
    await db.execute(
      sql`SELECT status, attempts, count(*)::int AS n FROM outbound_messages GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
  );
  return rows.map((r) => `${r.status} ${r.attempts}: ${r.n}`);
}

async function until(condition: () => Promise<boolean>, ms = 180_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const messageIdOf = (raw: Buffer) => /^Message-ID: (\S+)\r$/m.exec(raw.toString("latin1"))![1]!;

test.skipIf(postgres)(
  "on the embedded database worker refuses in one line (serve sends there)",
  async () => {
    const result = await runBuiltCli(["worker"], env);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("imap-proxy serve");
  },
);

// Any number of worker processes share one Postgres; the embedded database is one process.
describe.skipIf(!postgres)(
  "imap-proxy worker on Postgres (skipped on the embedded database: one process only)",
  () => {
    test("SIGINT mid-send: running sends finish and are recorded, prefetched rows go back unused, exit 0", async () => {
      await world.query(({ db }) => db.execute(sql`TRUNCATE outbound_messages, messages CASCADE`));
      const sink = await startFaultServer(pki, { dataDelayMs: 1000 });
      sinks.push(sink);
      await world.query(async ({ db }) => {
        const mailbox = await mailboxOn(db, sink.port, 2);
        await queue(
          db,
          mailbox,
          Array.from({ length: 30 }, (_, n) => `r${n}@example.net`),
        );
      });
      const worker = startWorker(2);
      // Two sends wait for their replies; 18 more are prefetched.
      await until(() => Promise.resolve(sink.received.length >= 1), 60_000);
      worker.child.kill("SIGINT");
      const [code] = await worker.exited;
      expect(code, worker.output.stderr).toBe(0);
      expect(worker.output.stderr).toContain("SIGINT: finishing running sends");
      const delivered = sink.received.length;
      expect(delivered).toBeGreaterThanOrEqual(1);
      expect(delivered).toBeLessThanOrEqual(4);
      // What went out is recorded sent; everything else is queued, due, no attempt used.
      expect(await world.query(({ db }) => countBy(db))).toEqual([
        `queued 0: ${30 - delivered}`,
        `sent 1: ${delivered}`,
      ]);
      expect(worker.output.stdout).toContain(`Stopped: ${delivered} handled, 0 lease(s) lost.`);
    }, 120_000);

    test("two worker processes, 1,000 messages to 10 mailboxes: each delivered exactly once", async () => {
      await world.query(({ db }) => db.execute(sql`TRUNCATE outbound_messages, messages CASCADE`));
      const sink = await startFaultServer(pki, {});
      sinks.push(sink);
      const expected = new Map<string, string>();
      await world.query(async ({ db }) => {
        for (let m = 0; m < 10; m++) {
          const mailbox = await mailboxOn(db, sink.port, 2);
          await queue(
            db,
            mailbox,
            Array.from({ length: 100 }, (_, n) => `m${m}-r${n}@example.net`),
          );
        }
        const rows = rowsOf<{ header: string; to: string }>(
          await db.execute(sql`
          SELECT m.message_id_header AS header, o.recipient_email AS "to"
          FROM outbound_messages o JOIN messages m ON m.id = o.message_id`),
        );
        for (const row of rows) expected.set(row.header, row.to);
      });
      expect(expected.size).toBe(1000);

      const workers = [startWorker(10), startWorker(10)];
      await until(
        async () => (await world.query(({ db }) => countBy(db))).join() === "sent 1: 1000",
      );
      for (const worker of workers) worker.child.kill("SIGTERM");
      for (const worker of workers) {
        const [code] = await worker.exited;
        expect(code, worker.output.stderr).toBe(0);
      }

      const seen = new Map<string, number>();
      for (const message of sink.received) {
        const id = messageIdOf(message.raw);
        seen.set(id, (seen.get(id) ?? 0) + 1);
        expect(message.to).toEqual([expected.get(id)]);
      }
      expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
      expect(seen.size).toBe(1000);
      expect(sink.received).toHaveLength(1000);
      // Both processes sent, and between them handled each message once.
      const handled = workers.map((w) =>
        Number(/Stopped: (\d+) handled/.exec(w.output.stdout)?.[1]),
      );
      expect(handled.every((n) => n > 0)).toBe(true);
      expect(handled[0]! + handled[1]!).toBe(1000);
    }, 300_000);
  },
);
