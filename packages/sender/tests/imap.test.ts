import { randomUUID } from "node:crypto";
import net from "node:net";
import { type Database, rowsOf, sql } from "@imap-proxy/db";
import { claim, markSent } from "@imap-proxy/db/queue";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import {
  IMAP_PASSWORD,
  IMAP_USERNAME,
  dovecotBinary,
  startDovecot,
  type RunningDovecot,
} from "@imap-proxy/testing/dovecot";
import { eximBinary } from "@imap-proxy/testing/exim";
import { startEximToDovecot, type RunningEximToDovecot } from "@imap-proxy/testing/exim-to-dovecot";
import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { freePort } from "@imap-proxy/testing/tcp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { copySentMessages, readBounces } from "../src/index.ts";

const peers = dovecotBinary() !== undefined && eximBinary() !== undefined;
const DOMAIN = "example.test";
const KNOWN = `other@${DOMAIN}`;
const UNKNOWN = `nobody@${DOMAIN}`;
// The tests' keyring stand-in: the stored "ciphertext" opens to the Dovecot password.
const secrets = { decryptSecret: () => IMAP_PASSWORD };

let pki: TestPki;
let dovecot: RunningDovecot;
let exim: RunningEximToDovecot;
let database: TestDatabase;
let db: Database;

beforeAll(async () => {
  if (!peers) return;
  pki = makeTestPki();
  dovecot = await startDovecot(pki, { users: [KNOWN] });
  exim = await startEximToDovecot({
    lmtpPort: dovecot.lmtpPort,
    domain: DOMAIN,
    users: ["owner", "other"],
  });
  database = await openTestDatabase();
  db = database.db;
}, 60_000);
afterAll(async () => {
  await database?.close();
  await exim?.close();
  await dovecot?.close();
});

const imap = () => ({ extraCa: pki.caPem, timeoutMs: 5_000 });

async function newMailbox(values: {
  imapHost?: string;
  imapPort?: number;
  sentCopy?: string;
  smtpHost?: string;
}) {
  const [row] = rowsOf<{ id: string }>(
    await db.execute(sql`
      INSERT INTO mailboxes (email, imap_host, imap_port, imap_username, imap_password_encrypted,
                             smtp_host, smtp_username, smtp_password_encrypted, imap_tls_mode, sent_copy)
      VALUES (${`${randomUUID()}@${DOMAIN}`}, ${values.imapHost ?? "localhost"}, ${values.imapPort ?? dovecot.implicitPort},
              ${IMAP_USERNAME}, ${Buffer.from("gAAAA-test")}, ${values.smtpHost ?? "smtp.example.test"}, 'x',
              ${Buffer.from("gAAAA-test")}, 'implicit', ${values.sentCopy ?? "auto"})
      RETURNING id`),
  );
  return row!.id;
}

/** A stored message to `recipients`, every recipient already `sent`. */
async function sentMessage(mailboxId: string, recipients: string[]) {
  const id = randomUUID();
  const header = `<${id}@${DOMAIN}>`;
  const raw = Buffer.from(
    [
      `From: ${IMAP_USERNAME}`,
      `To: ${recipients.join(", ")}`,
      "Subject: hello from imap-proxy",
      `Message-ID: ${header}`,
      "Date: Thu, 26 Nov 2026 00:00:00 +0000",
      "MIME-Version: 1.0",
      "Content-Type: text/plain",
      "",
      "Hello.",
      "",
    ].join("\r\n"),
  );
  await db.execute(sql`INSERT INTO messages (id, mailbox_id, message_id_header, envelope_from, subject)
    VALUES (${id}, ${mailboxId}, ${header}, ${IMAP_USERNAME}, 'hello from imap-proxy')`);
  await db.execute(sql`INSERT INTO message_bodies (message_id, raw, size_bytes, request_sha256)
    VALUES (${id}, ${raw}, ${raw.length}, ${Buffer.alloc(32)})`);
  for (const email of recipients) {
    await db.execute(sql`INSERT INTO outbound_messages (mailbox_id, message_id, recipient_email, subject)
      VALUES (${mailboxId}, ${id}, ${email}, 'hello')`);
  }
  for (const claimed of await claim(db, { limit: 100, owner: "test" }))
    await markSent(db, claimed.lease);
  return { id, header, raw };
}

const statuses = async (messageId: string) =>
  Object.fromEntries(
    rowsOf<{ recipient_email: string; status: string }>(
      await db.execute(
        sql`SELECT recipient_email, status FROM outbound_messages WHERE message_id = ${messageId}`,
      ),
    ).map((r) => [r.recipient_email, r.status]),
  );

const copyState = async (messageId: string) =>
  rowsOf<{ sent_copy_state: string; sent_copy_uid: string | null; sent_copy_attempts: number }>(
    await db.execute(
      sql`SELECT sent_copy_state, sent_copy_uid, sent_copy_attempts FROM messages WHERE id = ${messageId}`,
    ),
  )[0]!;

const inFolder = (folder: string, header: string) =>
  dovecot
    .doveadm("search", "-u", IMAP_USERNAME, "mailbox", folder, "header", "Message-ID", header)
    .split("\n")
    .filter(Boolean).length;

/** A minimal SMTP client: the test's own submission to the local Exim. */
async function smtpSend(port: number, from: string, to: string[], raw: Buffer) {
  const socket = net.connect(port, "127.0.0.1");
  let buffer = "";
  const replies: string[] = [];
  let waiting: (() => void) | undefined;
  socket.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("latin1");
    let end;
    while ((end = buffer.search(/^\d{3} .*\r\n/m)) !== -1) {
      const line = /^\d{3} .*\r\n/m.exec(buffer)!;
      replies.push(buffer.slice(0, end + line[0].length));
      buffer = buffer.slice(end + line[0].length);
      waiting?.();
    }
  });
  const reply = async () => {
    while (replies.length === 0) await new Promise<void>((r) => (waiting = r));
    const text = replies.shift()!;
    if (!/^[23]/.test(text.slice(-1 * text.length))) throw new Error(`SMTP: ${text}`);
    return text;
  };
  const command = async (line: string) => {
    socket.write(`${line}\r\n`);
    return reply();
  };
  await reply();
  await command("EHLO test.example");
  await command(`MAIL FROM:<${from}>`);
  for (const rcpt of to) await command(`RCPT TO:<${rcpt}>`);
  await command("DATA");
  socket.write(raw);
  await command(".");
  await command("QUIT");
  socket.destroy();
}

describe.skipIf(!peers)("Sent copy through the worker's pass, against Dovecot", () => {
  test("appears once; a failed attempt is retried on its own and never resends the mail", async () => {
    const deadPort = await freePort();
    const mailboxId = await newMailbox({ imapPort: deadPort, sentCopy: "on" });
    const message = await sentMessage(mailboxId, [KNOWN]);
    expect((await copyState(message.id)).sent_copy_state).toBe("pending");

    // IMAP unreachable: the copy waits for a later attempt; the recipient row is untouched.
    expect(await copySentMessages({ db, secrets, mailboxId, imap: imap() })).toMatchObject({
      retrying: 1,
    });
    expect(await copyState(message.id)).toMatchObject({
      sent_copy_state: "pending",
      sent_copy_attempts: 1,
    });
    expect(await statuses(message.id)).toEqual({ [KNOWN]: "sent" });
    const [queued] = rowsOf<{ n: number }>(
      await db.execute(
        sql`SELECT count(*)::int AS n FROM outbound_messages WHERE message_id = ${message.id} AND status <> 'sent'`,
      ),
    );
    expect(queued!.n).toBe(0);

    await db.execute(
      sql`UPDATE mailboxes SET imap_port = ${dovecot.implicitPort} WHERE id = ${mailboxId}`,
    );
    await db.execute(
      sql`UPDATE messages SET sent_copy_next_attempt_at = now() WHERE id = ${message.id}`,
    );
    expect(await copySentMessages({ db, secrets, mailboxId, imap: imap() })).toMatchObject({
      copied: 1,
    });
    expect(await copyState(message.id)).toMatchObject({
      sent_copy_state: "copied",
      sent_copy_attempts: 2,
    });
    expect(inFolder("Sent", message.header)).toBe(1);

    // Nothing is due any more: another pass copies nothing.
    expect(await copySentMessages({ db, secrets, mailboxId, imap: imap() })).toMatchObject({
      copied: 0,
      alreadyPresent: 0,
    });
    expect(inFolder("Sent", message.header)).toBe(1);
  });

  test("sent_copy auto skips a Gmail host without connecting", async () => {
    const mailboxId = await newMailbox({
      imapHost: "imap.gmail.com",
      imapPort: 993,
      smtpHost: "smtp.gmail.com",
    });
    const message = await sentMessage(mailboxId, [KNOWN]);
    expect(await copySentMessages({ db, secrets, mailboxId, imap: imap() })).toMatchObject({
      skipped: 1,
    });
    expect((await copyState(message.id)).sent_copy_state).toBe("skipped");
  });
});

describe.skipIf(!peers)("a real bounce: Exim's own DSN, read from the Dovecot INBOX", () => {
  test("marks exactly the unknown recipient bounced, once, and changes nothing on the server", async () => {
    const mailboxId = await newMailbox({ sentCopy: "off" });
    const message = await sentMessage(mailboxId, [KNOWN, UNKNOWN]);
    const before = inFolder("INBOX", message.header);
    await smtpSend(exim.port, IMAP_USERNAME, [KNOWN, UNKNOWN], message.raw);

    // Exim delivers the known recipient and bounces the other to the sender, over LMTP.
    const deadline = Date.now() + 20_000;
    const dsnCount = () =>
      dovecot
        .doveadm(
          "search",
          "-u",
          IMAP_USERNAME,
          "mailbox",
          "INBOX",
          "header",
          "Content-Type",
          "delivery-status",
        )
        .split("\n")
        .filter(Boolean).length;
    while (dsnCount() === 0) {
      if (Date.now() > deadline) throw new Error(`no DSN arrived: ${exim.mainLog()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(before).toBe(0);
    const flagsBefore = dovecot.doveadm(
      "fetch",
      "-u",
      IMAP_USERNAME,
      "uid flags",
      "mailbox",
      "INBOX",
      "all",
    );

    const first = await readBounces({ db, secrets, mailboxId, imap: imap() });
    expect(first).toMatchObject({ bounced: 1, recorded: 1 });
    expect(await statuses(message.id)).toEqual({ [KNOWN]: "sent", [UNKNOWN]: "bounced" });
    const [recorded] = rowsOf<{ kind: string; status: string; action: string }>(
      await db.execute(
        sql`SELECT dr.kind, dr.status, dr.action FROM delivery_reports dr JOIN outbound_messages om ON om.id = dr.outbound_message_id WHERE om.message_id = ${message.id}`,
      ),
    );
    expect(recorded).toMatchObject({ kind: "bounce", action: "failed" });
    expect(recorded!.status).toMatch(/^5\./);

    // Read-only: flags as they were, nothing moved or deleted; a second pass reads nothing new.
    expect(
      dovecot.doveadm("fetch", "-u", IMAP_USERNAME, "uid flags", "mailbox", "INBOX", "all"),
    ).toBe(flagsBefore);
    expect(await readBounces({ db, secrets, mailboxId, imap: imap() })).toMatchObject({
      reports: 0,
      recorded: 0,
    });
  });
});
