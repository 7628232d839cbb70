import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  DEFAULT_PAUSE_MS,
  type OutgoingMessage,
  type SendOutcome,
  SmtpConnectionPool,
  pauseDurationMs,
} from "../src/index.ts";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import { eximBinary, startExim } from "@imap-proxy/testing/exim";
import { type TestPki, makeTestPki } from "@imap-proxy/testing/pki";
import {
  type FaultPlan,
  type FaultServer,
  startFaultServer,
} from "@imap-proxy/testing/smtp-faults";

// Every row of the sender's outcome table, each against a server that really answers that way.
let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

const RAW = Buffer.from(
  "From: mailer@example.com\r\nTo: rcpt@example.net\r\nSubject: hi\r\nMessage-ID: <1@example.com>\r\n\r\nHello.\r\n",
);

function poolFor(
  port: number,
  options: { maxConnections?: number; maxMessages?: number; timeoutMs?: number } = {},
) {
  return new SmtpConnectionPool(
    {
      host: "localhost",
      port,
      tlsMode: "starttls_required",
      username: USERNAME,
      password: PASSWORD,
    },
    {
      extraCa: pki.caPem,
      // Short only where the test waits for silence; generous elsewhere (a loaded CI machine).
      timeoutMs: options.timeoutMs ?? 10_000,
      maxConnections: options.maxConnections ?? 1,
      maxMessagesPerConnection: options.maxMessages ?? 100,
    },
  );
}

const message = (extra: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  from: "mailer@example.com",
  to: "rcpt@example.net",
  raw: RAW,
  ...extra,
});

const servers: FaultServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

async function sendThrough(plan: FaultPlan, extra: Partial<OutgoingMessage> = {}) {
  const server = await startFaultServer(pki, plan);
  servers.push(server);
  const silent = [plan.mailFrom, plan.rcptTo, plan.data].includes("hang");
  // Long enough that a loaded machine still finishes TLS and AUTH before the silence starts.
  const pool = poolFor(server.port, silent ? { timeoutMs: 4000 } : {});
  try {
    return { outcome: await pool.send(message(extra)), server };
  } finally {
    pool.close();
  }
}

type Expected = Partial<Record<string, unknown>> & { kind: SendOutcome["kind"] };
const rows: [string, FaultPlan, Expected, { received: number }][] = [
  ["250 after the final dot", {}, { kind: "sent" }, { received: 1 }],
  [
    "550 5.1.1 to RCPT",
    { rcptTo: { code: 550, text: "5.1.1 No such user here" } },
    { kind: "bounced", code: "recipient_rejected" },
    { received: 0 },
  ],
  [
    "550 5.7.1 to MAIL FROM",
    { mailFrom: { code: 550, text: "5.7.1 Sender not allowed" } },
    { kind: "failed", code: "sender_rejected" },
    { received: 0 },
  ],
  [
    "554 5.6.0 after the final dot",
    { data: { code: 554, text: "5.6.0 Message content rejected" } },
    { kind: "failed", code: "message_rejected" },
    { received: 1 },
  ],
  [
    "a message over the EHLO SIZE",
    { size: 40 },
    { kind: "failed", code: "message_too_large" },
    { received: 0 },
  ],
  [
    "451 4.3.0 to RCPT",
    { rcptTo: { code: 451, text: "4.3.0 Temporary lookup failure" } },
    { kind: "retry", code: "temporary_failure" },
    { received: 0 },
  ],
  [
    "a reset at MAIL FROM",
    { mailFrom: "reset" },
    { kind: "retry", code: "connection_failed" },
    { received: 0 },
  ],
  ["silence at RCPT", { rcptTo: "hang" }, { kind: "retry", code: "timeout" }, { received: 0 }],
  [
    "421 4.7.0 at the greeting",
    { greeting: { code: 421, text: "4.7.0 Too many messages, try again in 10 minutes" } },
    { kind: "pause", reason: "rate_limited", pausedForMs: 600_000 },
    { received: 0 },
  ],
  [
    "432 4.3.2 at the greeting",
    { greeting: { code: 432, text: "4.3.2 Concurrent connections limit exceeded" } },
    { kind: "pause", reason: "too_many_connections", pausedForMs: DEFAULT_PAUSE_MS },
    { received: 0 },
  ],
  [
    "450 4.2.1 to RCPT",
    {
      rcptTo: {
        code: 450,
        text: "4.2.1 The user is receiving mail at a rate that prevents delivery",
      },
    },
    { kind: "pause", reason: "rate_limited" },
    { received: 0 },
  ],
  [
    "451 4.7.500 after the final dot",
    { data: { code: 451, text: "4.7.500 Server busy. Please try again later" } },
    { kind: "pause", reason: "rate_limited" },
    { received: 1 },
  ],
  [
    "550 5.4.5 daily quota to MAIL FROM",
    { mailFrom: { code: 550, text: "5.4.5 Daily user sending limit exceeded" } },
    { kind: "pause", reason: "quota_exceeded", pausedForMs: DEFAULT_PAUSE_MS },
    { received: 0 },
  ],
  [
    "554 5.2.0 SubmissionQuotaExceeded after the final dot",
    {
      data: {
        code: 554,
        text: "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
      },
    },
    { kind: "pause", reason: "quota_exceeded" },
    { received: 1 },
  ],
  [
    "a certificate for another host",
    { certificate: "other_host" },
    { kind: "pause", reason: "tls_failed", pausedForMs: null },
    { received: 0 },
  ],
  [
    "535 to AUTH",
    { auth: "reject" },
    { kind: "pause", reason: "auth_failed", pausedForMs: null },
    { received: 0 },
  ],
  [
    "454 to AUTH",
    { auth: "temporary" },
    { kind: "retry", code: "temporary_failure" },
    { received: 0 },
  ],
  [
    "no AUTH on offer",
    { auth: "unavailable" },
    { kind: "pause", reason: "auth_unavailable", pausedForMs: null },
    { received: 0 },
  ],
  [
    "a reset right after the final dot",
    { data: "reset" },
    { kind: "outcome_unknown" },
    { received: 1 },
  ],
  ["silence after the final dot", { data: "hang" }, { kind: "outcome_unknown" }, { received: 1 }],
];

describe("one send, every outcome, on a real socket", () => {
  test.each(rows)("%s", async (_name, plan, expected, { received }) => {
    const { outcome, server } = await sendThrough(plan);
    expect(outcome).toMatchObject(expected);
    expect(server.received).toHaveLength(received);
    if (outcome.kind === "sent") {
      expect(outcome.reply).toEqual({
        code: 250,
        enhancedStatus: "2.0.0",
        text: "250 2.0.0 Ok: queued as Q1",
      });
      // The stored bytes, unchanged, to exactly the envelope we asked for.
      expect(server.received[0]).toEqual({
        from: "mailer@example.com",
        to: ["rcpt@example.net"],
        raw: RAW,
      });
    }
    if (outcome.kind === "bounced") {
      expect(outcome.reply).toMatchObject({ code: 550, enhancedStatus: "5.1.1" });
    }
    // The password is in no outcome, whatever happened.
    expect(JSON.stringify(outcome)).not.toContain(PASSWORD);
  });

  test("connection refused: retry", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const pool = poolFor(port);
    expect(await pool.send(message())).toMatchObject({ kind: "retry", code: "connection_failed" });
    pool.close();
  });

  test("the STARTTLS bait: nothing sent, no AUTH on the wire, tls_unavailable", async () => {
    const { outcome, server } = await sendThrough({ starttls: false });
    expect(outcome).toMatchObject({ kind: "pause", reason: "tls_unavailable", pausedForMs: null });
    expect(server.received).toHaveLength(0);
    const wire = server.clientBytes().toString("latin1");
    expect(wire).toMatch(/^EHLO /);
    expect(wire).not.toMatch(/AUTH|MAIL FROM|RCPT TO/i);
    expect(wire).not.toContain(
      Buffer.from(`\u0000${USERNAME}\u0000${PASSWORD}`).toString("base64"),
    );
    expect(server.authAttempts).toEqual([]);
  });
});

describe("stopping before DATA", () => {
  test("beforeData refusing (lease lost): nothing of the body is sent, nothing delivered", async () => {
    let asked = 0;
    const { outcome, server } = await sendThrough(
      {},
      {
        beforeData: () => {
          asked += 1;
          return Promise.resolve(false);
        },
      },
    );
    expect(asked).toBe(1);
    expect(outcome.kind).toBe("aborted");
    expect(server.received).toHaveLength(0);
  });

  test("an aborted signal: no connection at all", async () => {
    const { outcome, server } = await sendThrough({}, { signal: AbortSignal.abort() });
    expect(outcome.kind).toBe("aborted");
    expect(server.connections()).toBe(0);
  });

  test("beforeData runs after the envelope was accepted, once per message", async () => {
    const order: string[] = [];
    const server = await startFaultServer(pki, {});
    servers.push(server);
    const pool = poolFor(server.port);
    const outcome = await pool.send(
      message({
        beforeData: () => {
          order.push(`mark with ${server.received.length} received`);
          return Promise.resolve(true);
        },
      }),
    );
    pool.close();
    expect(outcome.kind).toBe("sent");
    expect(order).toEqual(["mark with 0 received"]);
    expect(server.received).toHaveLength(1);
  });
});

describe("the pool", () => {
  test("at most maxConnections at once, recycled after maxMessages", async () => {
    const server = await startFaultServer(pki, {});
    servers.push(server);
    const pool = poolFor(server.port, { maxConnections: 2, maxMessages: 3 });
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => pool.send(message())));
    expect(outcomes.every((o) => o.kind === "sent")).toBe(true);
    expect(pool.openConnections).toBeLessThanOrEqual(2);
    pool.close();
    expect(server.received).toHaveLength(12);
    // 12 messages, at most 3 per connection: at least 4 connections over the run (a connection
    // that ends early for another reason, seen once on a loaded CI machine, only adds one).
    expect(server.connections()).toBeGreaterThanOrEqual(4);
    expect(server.connections()).toBeLessThanOrEqual(12);
  });
});

describe("pause length from the reply", () => {
  test.each([
    ["4.7.0 try again in 5 minutes", 300_000],
    ["4.7.0 Retry-After: 120", 120_000],
    ["4.7.0 please retry after 2 hours", 7_200_000],
    ["4.7.0 slow down", DEFAULT_PAUSE_MS],
    ["4.7.0 wait 9999 hours", 24 * 3_600_000],
  ])("%s", (text, ms) => {
    expect(pauseDurationMs(text)).toBe(ms);
  });
});

describe.skipIf(eximBinary() === undefined)("through a private Exim into its maildir", () => {
  test("delivered once, the stored bytes after Exim's trace headers; unknown users refused at RCPT", async () => {
    const exim = await startExim(pki, { deliverDomain: "test.example" });
    const pool = new SmtpConnectionPool(
      {
        host: "localhost",
        port: exim.relays.starttls.port,
        tlsMode: "starttls_required",
        username: USERNAME,
        password: PASSWORD,
      },
      { extraCa: pki.caPem, timeoutMs: 10_000, maxConnections: 2 },
    );
    try {
      const raws = [1, 2, 3].map((n) =>
        Buffer.from(RAW.toString().replace("Message-ID: <1@", `Message-ID: <${n}@`)),
      );
      const outcomes = await Promise.all(
        raws.map((raw) => pool.send(message({ to: "alice@test.example", raw }))),
      );
      expect(outcomes.map((o) => o.kind)).toEqual(["sent", "sent", "sent"]);
      expect(await pool.send(message({ to: "unknown-bob@test.example" }))).toMatchObject({
        kind: "bounced",
        reply: { code: 550, enhancedStatus: "5.1.1" },
      });
      let files: Buffer[] = [];
      for (let i = 0; i < 100 && files.length < 3; i++) {
        files = exim.delivered("alice");
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(files).toHaveLength(3);
      for (const raw of raws) {
        const matching = files.filter((file) =>
          file.subarray(file.length - raw.length).equals(raw),
        );
        expect(matching).toHaveLength(1);
        expect(matching[0]!.subarray(0, matching[0]!.length - raw.length).toString()).toMatch(
          /^Envelope-to: alice@test.example\r\nReceived: from /,
        );
      }
    } finally {
      pool.close();
      await exim.close();
    }
  });
});
