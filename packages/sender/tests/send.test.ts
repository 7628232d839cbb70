import net from "node:net";
import { type Database } from "@imap-proxy/db";
import { DEFAULT_RETRY_POLICY, recoverStale, retryFailed } from "@imap-proxy/db/queue";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import { type TestDatabase, openTestDatabase } from "@imap-proxy/testing/database";
import { type TestPki, makeTestPki } from "@imap-proxy/testing/pki";
import {
  type FaultPlan,
  type FaultServer,
  startFaultServer,
} from "@imap-proxy/testing/smtp-faults";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SendHandler, type SendHandlerOptions } from "../src/send-handler.ts";
import { type Handler, runWorker } from "../src/worker.ts";
import {
  composed,
  keyring,
  mailboxPause,
  peerMailbox,
  recipientRow,
  submit,
} from "./send-helpers.ts";
import { until } from "./helpers.ts";

// The worker with the real send handler, against servers that answer each way, on a real DB.
let database: TestDatabase;
let db: Database;
let pki: TestPki;
const servers: FaultServer[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  db = database.db;
  pki = makeTestPki();
});
afterAll(async () => {
  for (const server of servers) await server.close();
  await database?.close();
});

async function peer(plan: FaultPlan, extra: { maxConnections?: number } = {}) {
  const server = await startFaultServer(pki, plan);
  servers.push(server);
  return { server, mailbox: await peerMailbox(db, server.port, extra) };
}

// Retries wait an hour here: the tests share one database, and a retry of an earlier test's row
// coming due would be claimed by a later test's worker (slowing it, and counted by its handler).
const NO_RETRY_IN_THIS_FILE = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 3_600_000, jitter: 0 };

/** Runs a worker until the queue is empty, with the real handler. */
async function drain(
  timeoutMs = 10_000,
  options: {
    handler?: Partial<SendHandlerOptions>;
    concurrency?: number;
    wrap?: (handle: Handler) => Handler;
  } = {},
) {
  const handler = new SendHandler({
    db,
    keyring,
    smtp: { extraCa: pki.caPem, timeoutMs },
    ...options.handler,
  });
  try {
    return await runWorker({
      db,
      owner: "test-worker",
      concurrency: options.concurrency ?? 4,
      handler: options.wrap?.(handler.handle) ?? handler.handle,
      policy: NO_RETRY_IN_THIS_FILE,
      stopWhenEmpty: true,
    });
  } finally {
    handler.close();
  }
}

describe("what each reply does to the row and the mailbox", () => {
  test("2xx: sent once, the stored bytes, the server's queue id recorded", async () => {
    const { server, mailbox } = await peer({});
    const raw = composed(mailbox.email, "rcpt@example.net", 1);
    const { rowIds } = await submit(db, mailbox, ["rcpt@example.net"], raw);
    await drain();
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({
      status: "sent",
      attempts: 1,
      error_code: null,
      smtp_reply_code: 250,
      smtp_reply: "250 2.0.0 Ok: queued as Q1",
      data_started: true,
    });
    expect(server.received).toEqual([{ from: mailbox.email, to: ["rcpt@example.net"], raw }]);
  });

  test("5xx to RCPT: that recipient bounced", async () => {
    const { server, mailbox } = await peer({});
    server.setPlan({ rcptTo: { code: 550, text: "5.1.1 No such user" } });
    const { rowIds } = await submit(db, mailbox, ["gone@example.net"]);
    await drain();
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({
      status: "bounced",
      error_code: "recipient_rejected",
      smtp_reply_code: 550,
      smtp_enhanced_status: "5.1.1",
    });
  });

  test("5xx after DATA: failed at once, final", async () => {
    const { mailbox } = await peer({ data: { code: 554, text: "5.6.0 Content rejected" } });
    const { rowIds } = await submit(db, mailbox, ["a@example.net"]);
    await drain();
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({
      status: "failed",
      attempts: 1,
      error_code: "message_rejected",
      smtp_reply_code: 554,
    });
  });

  test("4xx: queued again for a retry, the attempt counted", async () => {
    const { mailbox } = await peer({ rcptTo: { code: 451, text: "4.3.0 Try later" } });
    const { rowIds } = await submit(db, mailbox, ["a@example.net"]);
    await drain();
    const row = await recipientRow(db, rowIds[0]!);
    expect(row).toMatchObject({ status: "queued", attempts: 1, error_code: "temporary_failure" });
    expect(row.error_log).toMatch(/attempt 1: temporary_failure: 451 4\.3\.0/);
  });

  test("a provider limit pauses the mailbox; the message waits without using an attempt", async () => {
    const { mailbox } = await peer({
      greeting: { code: 421, text: "4.7.0 Too many messages, try again in 10 minutes" },
    });
    const { rowIds } = await submit(db, mailbox, ["a@example.net", "b@example.net"]);
    await drain();
    for (const id of rowIds)
      expect(await recipientRow(db, id)).toMatchObject({ status: "queued", attempts: 0 });
    expect(await mailboxPause(db, mailbox.id)).toEqual({
      pause_reason: "rate_limited",
      timed: true,
    });
  });

  test("the STARTTLS bait: nothing sent, no AUTH on the wire, paused tls_unavailable", async () => {
    const { server, mailbox } = await peer({ starttls: false });
    const { rowIds } = await submit(db, mailbox, ["a@example.net"]);
    await drain();
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({
      status: "queued",
      attempts: 0,
      error_code: "tls_unavailable",
    });
    expect(await mailboxPause(db, mailbox.id)).toEqual({
      pause_reason: "tls_unavailable",
      timed: false,
    });
    expect(server.received).toEqual([]);
    const wire = server.clientBytes().toString("latin1");
    expect(wire).not.toMatch(/AUTH|MAIL FROM/i);
    expect(wire).not.toContain(
      Buffer.from(`\u0000${USERNAME}\u0000${PASSWORD}`).toString("base64"),
    );
  });

  test("a drop right after the final dot: outcome_unknown, delivered once, never resent by itself", async () => {
    const { server, mailbox } = await peer({ data: "reset" });
    const { messageId, rowIds } = await submit(db, mailbox, ["a@example.net"]);
    await drain();
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({
      status: "failed",
      error_code: "outcome_unknown",
      data_started: true,
    });
    await drain();
    expect(server.received).toHaveLength(1);
    // Only the operator's deliberate retry sends it again.
    server.setPlan({});
    expect(await retryFailed(db, messageId)).toEqual(rowIds);
    await drain();
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({ status: "sent" });
    expect(server.received).toHaveLength(2);
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Row = Record<string, unknown>;
const final = (code: string, reply: number | null): Row => ({
  status: "failed",
  attempts: 1,
  error_code: code,
  smtp_reply_code: reply,
  data_started: false,
});
const retried = (code: string): Row => ({ status: "queued", attempts: 1, error_code: code });
const paused = (reason: string): Row => ({ status: "queued", attempts: 0, error_code: reason });

// The rest of the outcome table through the worker: what each reply leaves on the row and the
// mailbox (the pool's own tests in @imap-proxy/smtp check the same rows at the send).
const table: [string, FaultPlan | "refused", Row, { pause?: string; timed?: boolean }][] = [
  [
    "550 5.7.1 to MAIL FROM",
    { mailFrom: { code: 550, text: "5.7.1 Sender not allowed" } },
    final("sender_rejected", 550),
    {},
  ],
  ["a message over the EHLO SIZE", { size: 40 }, final("message_too_large", null), {}],
  ["connection refused", "refused", retried("connection_failed"), {}],
  ["a reset at MAIL FROM", { mailFrom: "reset" }, retried("connection_failed"), {}],
  ["silence at RCPT", { rcptTo: "hang" }, retried("timeout"), {}],
  [
    "432 4.3.2 at the greeting",
    { greeting: { code: 432, text: "4.3.2 Concurrent connections limit exceeded" } },
    paused("too_many_connections"),
    { pause: "too_many_connections", timed: true },
  ],
  [
    "450 4.2.1 to RCPT",
    { rcptTo: { code: 450, text: "4.2.1 Receiving mail at a rate that prevents delivery" } },
    paused("rate_limited"),
    { pause: "rate_limited", timed: true },
  ],
  [
    "451 4.7.500 after the final dot",
    { data: { code: 451, text: "4.7.500 Server busy. Please try again later" } },
    paused("rate_limited"),
    { pause: "rate_limited", timed: true },
  ],
  [
    "550 5.4.5 daily quota to MAIL FROM",
    { mailFrom: { code: 550, text: "5.4.5 Daily user sending limit exceeded" } },
    paused("quota_exceeded"),
    { pause: "quota_exceeded", timed: true },
  ],
  [
    "554 5.2.0 SubmissionQuotaExceeded after the final dot",
    {
      data: {
        code: 554,
        text: "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
      },
    },
    paused("quota_exceeded"),
    { pause: "quota_exceeded", timed: true },
  ],
  [
    "a certificate for another host",
    { certificate: "other_host" },
    paused("tls_failed"),
    { pause: "tls_failed", timed: false },
  ],
  [
    "535 to AUTH",
    { auth: "reject" },
    paused("auth_failed"),
    { pause: "auth_failed", timed: false },
  ],
  [
    "no AUTH on offer",
    { auth: "unavailable" },
    paused("auth_unavailable"),
    { pause: "auth_unavailable", timed: false },
  ],
];

describe("every other row of the table, through the worker", () => {
  test.each(table)("%s", async (_name, plan, expected, { pause, timed }) => {
    const silent = plan !== "refused" && plan.rcptTo === "hang";
    const { server, mailbox } =
      plan === "refused"
        ? { server: undefined, mailbox: await peerMailbox(db, await closedPort()) }
        : await peer(plan);
    const { rowIds } = await submit(db, mailbox, ["a@example.net"]);
    await drain(silent ? 4000 : 10_000);
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject(expected);
    expect(await mailboxPause(db, mailbox.id)).toEqual(
      pause === undefined ? { pause_reason: null, timed: false } : { pause_reason: pause, timed },
    );
    if (pause === undefined) return;
    // Claims skip the paused mailbox: the next run does not even connect, and uses no attempt.
    const connections = server!.connections();
    await drain();
    expect(server!.connections()).toBe(connections);
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({ status: "queued", attempts: 0 });
  });
});

describe("the lease and the connections", () => {
  test("a lease lost before DATA: nothing of that attempt is sent; the next attempt sends it once", async () => {
    const { server, mailbox } = await peer({});
    const { rowIds } = await submit(db, mailbox, ["a@example.net"]);
    let revoked = 0;
    await drain(10_000, {
      concurrency: 1,
      // Another worker's recovery takes the lease while the handler starts (its clock ahead).
      wrap: (handle) => async (message, context) => {
        // Only this test's row: an earlier test's row whose pause ran out may be claimed too.
        if (message.id === rowIds[0] && revoked++ === 0)
          await recoverStale(db, {
            olderThanMs: 60_000,
            leaseMs: 60_000,
            clock: { now: () => new Date(Date.now() + 3_600_000) },
          });
        return handle(message, context);
      },
    });
    expect(revoked).toBe(2);
    expect(server.received).toHaveLength(1);
    expect(await recipientRow(db, rowIds[0]!)).toMatchObject({ status: "sent", attempts: 2 });
  });

  test("a connection carries at most 100 messages (the default), then a new one is opened", async () => {
    const { server, mailbox } = await peer({}, { maxConnections: 1 });
    await submit(
      db,
      mailbox,
      Array.from({ length: 101 }, (_, n) => `r${n}@example.net`),
    );
    await drain();
    expect(server.received).toHaveLength(101);
    expect(server.connections()).toBeGreaterThanOrEqual(2);
  });

  test("smtp_max_connections caps the connections to a mailbox's server; idle ones close after idleMs", async () => {
    const { server, mailbox } = await peer({ dataDelayMs: 100 }, { maxConnections: 2 });
    for (let n = 0; n < 12; n++) await submit(db, mailbox, [`r${n}@example.net`]);
    await drain(10_000, { concurrency: 8 });
    expect(server.received).toHaveLength(12);
    expect(server.peakConnections()).toBe(2);
    // The worker has stopped and closed its pools; a live handler closes idle ones by itself.
    await until(() => server.openConnections() === 0, 10_000);
    const handler = new SendHandler({
      db,
      keyring,
      smtp: { extraCa: pki.caPem, timeoutMs: 10_000 },
      idleMs: 300,
    });
    const late = (await submit(db, mailbox, ["late@example.net"])).rowIds[0];
    // Counted as this send returns: the worker's finish and last claim may outlast idleMs, and
    // so may the retries of earlier tests' rows that have come due meanwhile (same database).
    let openAfterSend: number | undefined;
    try {
      await runWorker({
        db,
        owner: "idle",
        concurrency: 1,
        policy: NO_RETRY_IN_THIS_FILE,
        handler: async (message, context) => {
          const outcome = await handler.handle(message, context);
          if (message.id === late) openAfterSend = server.openConnections();
          return outcome;
        },
        stopWhenEmpty: true,
      });
      expect(openAfterSend).toBe(1);
      await until(() => server.openConnections() === 0, 10_000);
    } finally {
      handler.close();
    }
  });
});
