import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FernetKey, Keyring } from "@imap-proxy/crypto";
import {
  DatabaseError,
  DriverFailure,
  createMailbox,
  getMessageStatus,
  redactDriverMessage,
  toDatabaseError,
} from "../src/index.ts";
import { enqueue } from "../src/queue/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

const keyring = Keyring.parse(FernetKey.generate());

/** Everything a caller could print of an error: each link's message, stack and own fields. */
function printable(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error) {
    parts.push(current.message, current.stack ?? "");
    for (const name of Object.getOwnPropertyNames(current)) {
      if (name === "cause") continue;
      try {
        parts.push(String((current as unknown as Record<string, unknown>)[name]));
      } catch {
        // an accessor that throws shows nothing
      }
    }
    current = current.cause;
  }
  return parts.join("\n");
}

async function failure(work: Promise<unknown>): Promise<DatabaseError> {
  const error = await work.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(DatabaseError);
  return error as DatabaseError;
}

describe("database errors carry no query parameters", () => {
  test("a 9 KB email is a check violation naming the constraint, not the email or ciphertexts", async () => {
    const email = `${"a".repeat(9000)}-secretlocal@example.com`;
    const imapPassword = "imap-password-that-must-not-leak";
    const error = await failure(
      createMailbox(database.db, keyring, {
        email,
        imapHost: "imap.example.com",
        imapPort: 993,
        imapUsername: "ann",
        imapPassword,
        smtpHost: "smtp.example.com",
        smtpPort: 587,
        smtpUsername: "ann",
        smtpPassword: "smtp-password",
        smtpTlsMode: "starttls_required",
      }),
    );
    expect(error.code).toBe("check_violation");
    expect(error.message).toContain("mailboxes_email_length");
    expect(error.cause).toBeInstanceOf(DriverFailure);
    const text = printable(error);
    expect(text).not.toContain("secretlocal");
    expect(text).not.toContain("aaaaaaaaaa");
    // Fernet tokens start with version byte 0x80: "gAAAAA" in base64url.
    expect(text).not.toMatch(/gAAAAA/);
    expect(text).not.toContain("params:");
  });

  test("an enqueue to an unknown mailbox names the foreign key, not recipients or subjects", async () => {
    const error = await failure(
      enqueue(database.db, "00000000-0000-4000-8000-000000000001", [
        { recipientEmail: "hidden-recipient@example.net", subject: "Private subject line" },
        { recipientEmail: "second-hidden@example.net", subject: "Another private subject" },
      ]),
    );
    expect(error.code).toBe("foreign_key_violation");
    const text = printable(error);
    for (const secret of [
      "hidden-recipient",
      "second-hidden",
      "Private subject",
      "Another private",
    ])
      expect(text).not.toContain(secret);
    expect(text).not.toContain("00000000-0000-4000-8000-000000000001");
  });

  test("a malformed value is invalid_input with the value blanked", async () => {
    const error = await failure(
      getMessageStatus(
        database.db,
        "not-a-uuid-but-a-secret",
        "00000000-0000-4000-8000-000000000002",
      ),
    );
    expect(error.code).toBe("invalid_input");
    expect(error.message).toMatch(/invalid input syntax for type uuid/);
    expect(printable(error)).not.toContain("not-a-uuid-but-a-secret");
  });
});

describe("redactDriverMessage", () => {
  test("keeps the names Postgres quotes and blanks values and parameters", () => {
    expect(
      redactDriverMessage(
        'new row for relation "mailboxes" violates check constraint "mailboxes_email_length"',
        [],
      ),
    ).toBe('new row for relation "mailboxes" violates check constraint "mailboxes_email_length"');
    expect(redactDriverMessage('invalid input value for enum mailbox_tls_mode: "tls"', [])).toBe(
      'invalid input value for enum mailbox_tls_mode: "…"',
    );
    expect(redactDriverMessage("value secret-param-1 is bad", ["secret-param-1"])).toBe(
      "value … is bad",
    );
  });

  test("errors without a driver behind them pass through unchanged", () => {
    const bug = new TypeError("undefined is not a function");
    expect(toDatabaseError(bug)).toBe(bug);
    const coded = new DatabaseError("not_found", "No mailbox matches x.");
    expect(toDatabaseError(coded)).toBe(coded);
  });
});
