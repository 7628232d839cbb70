import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FernetKey, InvalidTokenError, Keyring } from "@imap-proxy/crypto";
import {
  DatabaseError,
  createMailbox,
  findMailboxRow,
  rotateMailboxSecrets,
  rowsOf,
  type MailboxSettings,
} from "../../src/index.ts";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import { catalogColumns, expectRejected, mailboxInsert } from "../helpers.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

describe("mailboxes", () => {
  test("test_smtp_fields_exist", async () => {
    const { db } = database;
    const columns = await catalogColumns(db, "mailboxes");
    const expectations: Record<
      string,
      [udt: string, nullable: "YES" | "NO", defaultLike: RegExp | null]
    > = {
      smtp_host: ["text", "NO", null],
      smtp_port: ["int4", "NO", /^587$/],
      smtp_username: ["text", "NO", null],
      smtp_password_encrypted: ["bytea", "NO", null],
      smtp_tls_mode: ["mailbox_tls_mode", "NO", /^'starttls_required'::mailbox_tls_mode$/],
      imap_host: ["text", "NO", null],
      imap_port: ["int4", "NO", /^993$/],
      imap_username: ["text", "NO", null],
      imap_password_encrypted: ["bytea", "NO", null],
    };
    for (const [name, [udt, nullable, defaultLike]] of Object.entries(expectations)) {
      const column = columns.get(name);
      expect(column, name).toBeDefined();
      expect(column?.udt_name, name).toBe(udt);
      expect(column?.is_nullable, name).toBe(nullable);
      if (defaultLike) expect(column?.column_default, name).toMatch(defaultLike);
      else expect(column?.column_default, name).toBeNull();
    }
    // No legacy TLS flag, ever.
    expect(columns.has("use_tls")).toBe(false);
    expect(columns.has("smtp_use_tls")).toBe(false);

    const enumLabels = rowsOf<{ label: string }>(
      await db.execute(sql`
        SELECT e.enumlabel AS label FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
        WHERE t.typname = 'mailbox_tls_mode' ORDER BY e.enumsortorder`),
    ).map((row) => row.label);
    expect(enumLabels).toEqual(["implicit", "starttls_required"]);

    // Defaults apply when the SMTP port and mode are omitted.
    const inserted = rowsOf<{ smtp_port: number; smtp_tls_mode: string; imap_port: number }>(
      await db.execute(mailboxInsert()),
    )[0];
    expect(inserted?.smtp_port).toBe(587);
    expect(inserted?.smtp_tls_mode).toBe("starttls_required");
    expect(inserted?.imap_port).toBe(993);

    // The database itself refuses what the types would also refuse.
    expect(await expectRejected(db, mailboxInsert({ smtp_host: null }))).toBe("23502");
    expect(await expectRejected(db, mailboxInsert({ smtp_username: null }))).toBe("23502");
    expect(await expectRejected(db, mailboxInsert({ smtp_password_encrypted: null }))).toBe(
      "23502",
    );
    expect(await expectRejected(db, mailboxInsert({ smtp_tls_mode: "STARTTLS" }))).toBe("22P02");
    expect(await expectRejected(db, mailboxInsert({ smtp_tls_mode: "none" }))).toBe("22P02");
    expect(await expectRejected(db, mailboxInsert({ smtp_port: 0 }))).toBe("23514");
    expect(await expectRejected(db, mailboxInsert({ smtp_port: 65536 }))).toBe("23514");
    expect(await expectRejected(db, mailboxInsert({ imap_port: -1 }))).toBe("23514");
    expect(await expectRejected(db, mailboxInsert({ smtp_host: "  " }))).toBe("23514");
  });

  test("email is unique case-insensitively", async () => {
    const { db } = database;
    await db.execute(mailboxInsert({ email: "Ops@Example.com" }));
    expect(await expectRejected(db, mailboxInsert({ email: "ops@example.COM" }))).toBe("23505");
  });

  test("updated_at moves on every update, raw SQL included", async () => {
    const { db } = database;
    const row = rowsOf<{ id: string; updated_at: unknown; created_at: unknown }>(
      await db.execute(mailboxInsert()),
    )[0]!;
    await db.execute(sql`SELECT pg_sleep(0.01)`);
    const after = rowsOf<{ moved: boolean; created_kept: boolean }>(
      await db.execute(sql`
        UPDATE mailboxes SET smtp_port = 2525, updated_at = '2000-01-01'
        WHERE id = ${row.id}
        RETURNING updated_at > created_at AS moved, created_at = ${String(row.created_at instanceof Date ? row.created_at.toISOString() : row.created_at)}::timestamptz AS created_kept`),
    )[0];
    expect(after).toEqual({ moved: true, created_kept: true });
  });
});

function settings(overrides: Partial<MailboxSettings> = {}): MailboxSettings {
  return {
    email: `box-${Math.random().toString(36).slice(2)}@example.com`,
    imapHost: "imap.example.com",
    imapPort: 993,
    imapUsername: "box",
    imapPassword: "imap-pässword\u{1F511}",
    smtpHost: "smtp.example.com",
    smtpPort: 587,
    smtpUsername: "box",
    smtpPassword: "same password",
    smtpTlsMode: "starttls_required",
    ...overrides,
  };
}

describe("mailbox secrets", () => {
  test("test_smtp_password_encryption", async () => {
    const { db } = database;
    const key = FernetKey.generate();
    const keyring = Keyring.parse(key);
    const first = await createMailbox(db, keyring, settings({ smtpPassword: "same password" }));
    const second = await createMailbox(db, keyring, settings({ smtpPassword: "same password" }));
    expect(JSON.stringify(first)).not.toMatch(/password|gAAAA/i);

    const rowA = (await findMailboxRow(db, first.id))!;
    const rowB = (await findMailboxRow(db, second.id))!;
    // Stored as a Fernet token's ASCII bytes (version byte 0x80 → "gAAAA"), not the plaintext.
    const raw = rowsOf<{ smtp: Uint8Array; imap: Uint8Array }>(
      await db.execute(
        sql`SELECT smtp_password_encrypted AS smtp, imap_password_encrypted AS imap FROM mailboxes WHERE id = ${first.id}`,
      ),
    )[0]!;
    const smtpText = Buffer.from(raw.smtp).toString("latin1");
    expect(smtpText).toMatch(/^gAAAAA[A-Za-z0-9_-]+=*$/);
    expect(smtpText).toBe(rowA.smtpPasswordEncrypted);
    expect(smtpText).not.toContain("same password");
    expect(rowA.smtpPasswordEncrypted).not.toBe(rowB.smtpPasswordEncrypted);

    // Decryptable with the same single key as the IMAP password, and exact.
    const sameKeyAlone = Keyring.parse(key);
    expect(sameKeyAlone.decryptSecret(rowA.smtpPasswordEncrypted)).toBe("same password");
    expect(sameKeyAlone.decryptSecret(rowA.imapPasswordEncrypted)).toBe("imap-pässword\u{1F511}");
    expect(sameKeyAlone.decryptSecret(rowB.smtpPasswordEncrypted)).toBe("same password");
    // And by nothing else.
    const stranger = Keyring.parse(FernetKey.generate());
    expect(() => stranger.decryptSecret(rowA.smtpPasswordEncrypted)).toThrow(InvalidTokenError);
    expect(() => stranger.decryptSecret(rowA.imapPasswordEncrypted)).toThrow(InvalidTokenError);
  });

  test("a duplicate email is a typed error, whatever its case", async () => {
    const { db } = database;
    const keyring = Keyring.parse(FernetKey.generate());
    await createMailbox(db, keyring, settings({ email: "Dup@Example.org" }));
    const error = await createMailbox(db, keyring, settings({ email: "dup@example.ORG" })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).code).toBe("unique_violation");
    expect((error as DatabaseError).message).toMatch(/already exists/);
  });

  test("keys:rotate core: re-encrypts every secret, is idempotent, and refuses when a key is missing", async () => {
    const fresh = await openTestDatabase();
    try {
      const { db } = fresh;
      const oldKey = FernetKey.generate();
      const newKey = FernetKey.generate();
      const old = Keyring.parse(oldKey);
      const ids: string[] = [];
      for (let i = 0; i < 7; i++)
        ids.push(
          (
            await createMailbox(
              db,
              old,
              settings({ imapPassword: `imap-${i}`, smtpPassword: `smtp-${i}` }),
            )
          ).id,
        );

      // Only the new key configured: refuses, names every mailbox, writes nothing.
      const before = rowsOf<{ t: string }>(
        await db.execute(
          sql`SELECT string_agg(encode(smtp_password_encrypted, 'escape'), ',' ORDER BY id) AS t FROM mailboxes`,
        ),
      )[0]!.t;
      const refusal = await rotateMailboxSecrets(db, Keyring.parse(newKey)).catch(
        (error: unknown) => error,
      );
      expect(refusal).toBeInstanceOf(DatabaseError);
      for (const id of ids) expect((refusal as Error).message).toContain(id);
      const after = rowsOf<{ t: string }>(
        await db.execute(
          sql`SELECT string_agg(encode(smtp_password_encrypted, 'escape'), ',' ORDER BY id) AS t FROM mailboxes`,
        ),
      )[0]!.t;
      expect(after).toBe(before);

      const both = Keyring.parse(`${newKey},${oldKey}`);
      expect(await rotateMailboxSecrets(db, both, { batchSize: 3 })).toEqual({
        mailboxes: 7,
        rewritten: 7,
      });
      expect(await rotateMailboxSecrets(db, both, { batchSize: 3 })).toEqual({
        mailboxes: 7,
        rewritten: 0,
      });
      const newOnly = Keyring.parse(newKey);
      for (const [i, id] of ids.entries()) {
        const row = (await findMailboxRow(db, id))!;
        expect(newOnly.decryptSecret(row.imapPasswordEncrypted)).toBe(`imap-${i}`);
        expect(newOnly.decryptSecret(row.smtpPasswordEncrypted)).toBe(`smtp-${i}`);
      }
    } finally {
      await fresh.close();
    }
  });

  test("an interrupted rotation leaves every row decryptable by the configured keys", async () => {
    const fresh = await openTestDatabase();
    try {
      const { db } = fresh;
      const oldKey = FernetKey.generate();
      const newKey = FernetKey.generate();
      for (let i = 0; i < 5; i++)
        await createMailbox(db, Keyring.parse(oldKey), settings({ smtpPassword: `p${i}` }));
      const both = Keyring.parse(`${newKey},${oldKey}`);
      // Crash in the middle of the second batch: the rotator dies on its 3rd rotation.
      let rotations = 0;
      const crashing = {
        decrypt: (t: string) => both.decrypt(t),
        needsRotation: (t: string) => both.needsRotation(t),
        rotate: (t: string) => {
          if (++rotations === 7) throw new Error("simulated crash");
          return both.rotate(t);
        },
      };
      await expect(rotateMailboxSecrets(db, crashing, { batchSize: 2 })).rejects.toThrow(
        "simulated crash",
      );
      const rows = rowsOf<{ imap: Uint8Array; smtp: Uint8Array }>(
        await db.execute(
          sql`SELECT imap_password_encrypted AS imap, smtp_password_encrypted AS smtp FROM mailboxes`,
        ),
      );
      const tokens = rows.flatMap((r) => [
        Buffer.from(r.imap).toString("ascii"),
        Buffer.from(r.smtp).toString("ascii"),
      ]);
      const underNew = tokens.filter((t) => !both.needsRotation(t)).length;
      expect(underNew).toBe(4); // the first batch (2 mailboxes × 2 secrets) committed, nothing else
      for (const token of tokens) expect(() => both.decrypt(token)).not.toThrow();
      expect(await rotateMailboxSecrets(db, both, { batchSize: 2 })).toEqual({
        mailboxes: 5,
        rewritten: 3,
      });
    } finally {
      await fresh.close();
    }
  });
});
