import { type Database } from "@imap-proxy/db";
import { retryFailed } from "@imap-proxy/db/queue";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import { type TestDatabase, openTestDatabase } from "@imap-proxy/testing/database";
import { type TestPki, makeTestPki } from "@imap-proxy/testing/pki";
import {
  type FaultPlan,
  type FaultServer,
  startFaultServer,
} from "@imap-proxy/testing/smtp-faults";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SendHandler } from "../src/send-handler.ts";
import { runWorker } from "../src/worker.ts";
import {
  composed,
  keyring,
  mailboxPause,
  peerMailbox,
  recipientRow,
  submit,
} from "./send-helpers.ts";

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

async function peer(plan: FaultPlan) {
  const server = await startFaultServer(pki, plan);
  servers.push(server);
  return { server, mailbox: await peerMailbox(db, server.port) };
}

/** Runs a worker until the queue is empty, with the real handler. */
async function drain(timeoutMs = 10_000) {
  const handler = new SendHandler({ db, keyring, smtp: { extraCa: pki.caPem, timeoutMs } });
  try {
    return await runWorker({
      db,
      owner: "test-worker",
      concurrency: 4,
      handler: handler.handle,
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
