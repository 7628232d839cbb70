import { sql } from "drizzle-orm";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { rowsOf } from "../src/index.ts";
import {
  type ClaimedMessage,
  claim,
  enqueue,
  markFailed,
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

  test("what a failing handler reports is scrubbed before it is stored", async () => {
    const { db } = database;
    const mailboxId = rowsOf<{ id: string }>(await db.execute(mailboxInsert()))[0]!.id;
    const [message] = await enqueue(db, mailboxId, {
      recipientEmail: "a@example.net",
      subject: "x",
    });
    const [claimed] = (await claim(db, { limit: 1, owner: "w" })) as [ClaimedMessage];
    expect(claimed.id).toBe(message!.id);
    await markFailed(db, claimed.lease, `535 5.7.8 cannot decode ${sasl.slice(0, 16)}…`);
    const [row] = rowsOf<{ error_log: string }>(
      await db.execute(sql`SELECT error_log FROM outbound_messages WHERE id = ${message!.id}`),
    );
    expect(row!.error_log).toMatch(/attempt 1: 535 5\.7\.8 cannot decode \*\*\*…\n$/);
    expect(row!.error_log).not.toContain(sasl.slice(0, 8));
  });
});
