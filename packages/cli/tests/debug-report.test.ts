import { FernetKey } from "@imap-proxy/crypto";
import { sql } from "@imap-proxy/db";
import { enqueue } from "@imap-proxy/db/queue";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { debugReport } from "../src/debug-report.ts";
import { openCliWorld, runBuiltCli, type CliWorld } from "./support.ts";

let database: TestDatabase;
let world: CliWorld;
beforeAll(async () => {
  [database, world] = await Promise.all([openTestDatabase(), openCliWorld()]);
});
afterAll(async () => {
  await Promise.all([database?.close(), world?.close()]);
});

const caught = (work: Promise<unknown>) =>
  work.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error,
  );

describe("--debug prints the cause chain without query parameters", () => {
  test("a mapped enqueue failure: the chain is printed, recipients and subjects are not", async () => {
    const error = await caught(
      enqueue(database.db, "00000000-0000-4000-8000-000000000003", [
        { recipientEmail: "hidden-recipient@example.net", subject: "Private subject line" },
      ]),
    );
    const report = debugReport(error);
    expect(report).toMatch(/^DatabaseError: The database refused the change/);
    expect(report).toMatch(/caused by: DriverFailure: SQLSTATE 23503/);
    expect(report).not.toContain("hidden-recipient");
    expect(report).not.toContain("Private subject");
  });

  test("a raw driver error (never mapped) is shown by name and frames only", async () => {
    const error = await caught(
      database.db.execute(sql`SELECT ${"gAAAAA-pretend-ciphertext"}::uuid`),
    );
    const report = debugReport(error);
    expect(report).toContain("not shown");
    expect(report).toMatch(/\n\s+at /);
    expect(report).not.toContain("pretend-ciphertext");
  });

  test("the built CLI with a 9 KB email and --debug prints no password or ciphertext", async () => {
    const password = `Sentinel-${FernetKey.generate().slice(0, 12)}`;
    const result = await runBuiltCli(
      [
        "mailboxes:create",
        "--no-input",
        "--email",
        `${"a".repeat(9000)}@example.com`,
        "--imap-host",
        "imap.example.com",
        "--imap-username",
        "ann",
        "--smtp-host",
        "smtp.example.com",
        "--smtp-username",
        "ann",
        "--debug",
      ],
      { ...world.env, IMAP_PASSWORD: password, SMTP_PASSWORD: password },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr.split("\n")[0]).toMatch(/^error: /);
    expect(result.stderr).not.toContain(password);
    expect(result.stderr).not.toMatch(/gAAAAA/);
    expect(result.stderr).not.toContain("params:");
    expect(await world.mailboxCount()).toBe(0);
  });
});
