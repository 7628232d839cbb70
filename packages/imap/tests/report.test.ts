import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { parseMailReport } from "../src/index.ts";

// Real-world reports from sisimai/set-of-emails (BSD-2-Clause, see fixtures/dsn/README.md), each
// with its expected parse beside it. IMAP_PROXY_UPDATE_FIXTURES=1 rewrites the expectations
// (review the diff before committing).
const dir = path.join(import.meta.dirname, "fixtures", "dsn");
const samples = readdirSync(dir)
  .filter((name) => name.endsWith(".eml"))
  .sort();

describe("the DSN/ARF fixture corpus", () => {
  test("has a dozen or more samples", () => {
    expect(samples.length).toBeGreaterThanOrEqual(12);
  });

  test.each(samples)("%s", async (name) => {
    const report = (await parseMailReport(readFileSync(path.join(dir, name)))) ?? null;
    const expectedFile = path.join(dir, name.replace(/\.eml$/, ".expected.json"));
    if (process.env.IMAP_PROXY_UPDATE_FIXTURES === "1") {
      writeFileSync(expectedFile, `${JSON.stringify(report, null, 2)}\n`);
    }
    expect(JSON.parse(JSON.stringify(report))).toEqual(
      JSON.parse(readFileSync(expectedFile, "utf8")),
    );
  });
});

const dsn = (recipients: string, returned: string) =>
  [
    "From: MAILER-DAEMON@mx.example.net",
    "To: owner@example.test",
    "Subject: Undelivered Mail",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    "",
    "--B",
    "Content-Type: text/plain",
    "",
    "Sorry.",
    "--B",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.net",
    "",
    recipients,
    "--B",
    returned,
    "--B--",
    "",
  ].join("\r\n");

describe("parseMailReport", () => {
  test("per recipient: hard, transient and delayed; folded diagnostic; headers-only original", async () => {
    const report = await parseMailReport(
      dsn(
        [
          "Final-Recipient: rfc822; <Gone@Example.NET>",
          "Original-Recipient: rfc822;gone@example.net",
          "Action: failed",
          "Status: 5.1.1 (bad mailbox)",
          "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>:",
          "  Recipient address rejected",
          "",
          "Final-Recipient: rfc822; full@example.net",
          "Action: failed",
          "Status: 4.2.2",
          "",
          "Final-Recipient: rfc822; slow@example.net",
          "Action: delayed",
          "Status: 4.4.1",
          "",
          "Final-Recipient: rfc822; fine@example.net",
          "Action: delivered",
          "Status: 2.0.0",
          "",
        ].join("\r\n"),
        "Content-Type: text/rfc822-headers\r\n\r\nFrom: owner@example.test\r\nMessage-ID:\r\n <abc-123@example.test>\r\nSubject: hi\r\n",
      ),
    );
    expect(report).toEqual({
      kind: "delivery_status",
      reportingMta: "mx.example.net",
      originalMessageId: "<abc-123@example.test>",
      recipients: [
        {
          outcome: "bounce",
          finalRecipient: "Gone@Example.NET",
          originalRecipient: "gone@example.net",
          action: "failed",
          status: "5.1.1",
          diagnosticCode: "550 5.1.1 <gone@example.net>: Recipient address rejected",
          remoteMta: undefined,
        },
        expect.objectContaining({
          outcome: "soft_bounce",
          finalRecipient: "full@example.net",
          status: "4.2.2",
        }),
        expect.objectContaining({
          outcome: "delay",
          finalRecipient: "slow@example.net",
          status: "4.4.1",
        }),
      ],
    });
  });

  test("ordinary mail and prose bounces are not reports", async () => {
    expect(
      await parseMailReport("From: a@example.net\r\nSubject: hello\r\n\r\nMessage-ID: <x@y>\r\n"),
    ).toBeUndefined();
    expect(
      await parseMailReport(
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\n--B--\r\n',
      ),
    ).toBeUndefined();
  });
});
