import { sql } from "drizzle-orm";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rowsOf } from "../src/index.ts";
import {
  type ClaimedMessage,
  claim,
  enqueue,
  markBouncedMany,
  markFailed,
  pauseMany,
  scrubErrorText,
} from "../src/queue/index.ts";

import { mailboxInsert } from "./helpers.ts";

const USER = "user";
const PASSWORD = "S3cr3t-Passw0rd!";
const b64 = (text: string) => Buffer.from(text).toString("base64");
const sasl = b64(`\0${USER}\0${PASSWORD}`);

describe("scrubErrorText", () => {
  test.each([
    ["a SASL PLAIN blob the server could not decode", `535 5.7.8 cannot decode ${sasl}`],
    ["a fragment of one, cut off by the server", `535 5.7.8 cannot decode ${sasl.slice(0, 12)}…`],
    ["a fragment from inside one", `501 bad data ${sasl.slice(5, 19)}`],
    ["the echoed AUTH PLAIN command", `500 unrecognised: AUTH PLAIN ${sasl}`],
    ["AUTH LOGIN with the username in base64", `504 AUTH LOGIN ${b64(USER)} not supported`],
    ["the password in base64", `535 rejected ${b64(PASSWORD)}`],
    ["the password in url-safe base64", `535 rejected ${b64(PASSWORD).replace(/\+/g, "-")}`],
    ["a XOAUTH2 token", "535 AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlcg=="],
  ])("drops %s", (_label, text) => {
    const scrubbed = scrubErrorText(text);
    for (const secret of [sasl, b64(PASSWORD), PASSWORD, sasl.slice(0, 12), sasl.slice(5, 19)])
      expect(scrubbed).not.toContain(secret);
    expect(scrubbed).not.toMatch(/[A-Za-z0-9+/]{8,}={1,2}/);
    expect(scrubbed).toContain("***");
  });

  test.each([
    "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
    "421 4.7.0 mx10.example.com Service not available, closing transmission channel",
    "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
    "connect ECONNREFUSED 127.0.0.1:2525",
    "552 5.3.4 Message size exceeds fixed maximum message size (10485760 bytes)",
    "550-5.7.1 see https://support.google.com/mail/?p=UnsolicitedMessage d2e1a72fcca58 - gsmtp",
    "535 5.7.8 Authentication credentials invalid",
    "recipient_rejected: 550 5.1.1 no such user; outcome_unknown after DATA",
  ])("keeps ordinary diagnostics: %s", (text) => {
    expect(scrubErrorText(text)).toBe(text);
  });
});

describe("error_log", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase();
  });
  afterAll(async () => {
    await database?.close();
  });

  const echo = `535 5.7.8 cannot decode ${sasl.slice(0, 16)}…`;
  const reply = { code: 535, enhancedStatus: "5.7.8", text: echo };

  async function claimOne(mailboxId: string): Promise<ClaimedMessage> {
    await enqueue(database.db, mailboxId, { recipientEmail: "a@example.net", subject: "x" });
    return ((await claim(database.db, { limit: 1, owner: "w" })) as [ClaimedMessage])[0];
  }
  async function stored(id: string): Promise<string> {
    const [row] = rowsOf<object>(
      await database.db.execute(sql`SELECT o.error_log, o.smtp_reply, m.pause_detail
        FROM outbound_messages o JOIN mailboxes m ON m.id = o.mailbox_id WHERE o.id = ${id}`),
    );
    return JSON.stringify(row);
  }

  test("what a handler reports (failure, bounce, pause, the reply) is scrubbed before it is stored", async () => {
    const { db } = database;
    const mailboxId = rowsOf<{ id: string }>(await db.execute(mailboxInsert()))[0]!.id;
    const failed = await claimOne(mailboxId);
    await markFailed(db, failed.lease, echo);
    expect(await stored(failed.id)).toMatch(/attempt 1: 535 5\.7\.8 cannot decode \*\*\*…/);
    const bounced = await claimOne(mailboxId);
    await markBouncedMany(db, [{ ...bounced.lease, error: `bounced: ${echo}`, reply }]);
    const paused = await claimOne(mailboxId);
    await pauseMany(db, [
      { ...paused.lease, mailboxId, reason: "auth_failed", pausedForMs: null, detail: echo, reply },
    ]);
    for (const id of [failed.id, bounced.id, paused.id]) {
      const text = await stored(id);
      expect(text).toContain("***");
      expect(text).not.toContain(sasl.slice(0, 8));
    }
  });
});
