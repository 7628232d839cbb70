import { quoted, isUuid } from "@imap-proxy/errors";
import { and, asc, count, eq, getTableColumns, gt, inArray, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import {
  DatabaseError,
  integrityErrorCode,
  violatedConstraint,
  withDatabaseErrors,
} from "./errors.ts";
import {
  type Mailbox,
  type MailboxPauseReason,
  mailboxes,
  messages,
  outboundMessages,
} from "./schema.ts";

/**
 * What seals and opens stored secrets. `@imap-proxy/crypto`'s Keyring is one; the repository
 * takes it as a parameter so both passwords always go through the same object and key.
 */
export interface SecretSealer {
  encryptSecret(plaintext: string): string;
}
export interface SecretRotator {
  /** Throws when no configured key can decrypt the token. */
  decrypt(token: string): unknown;
  needsRotation(token: string): boolean;
  rotate(token: string): string;
}

/*
 * Every mailbox column is one of: the id, a stored secret, the pause, the audit timestamps, or a
 * setting. Settings are derived from the table, so a new column is read, written, listed and
 * printed without being named here.
 */
const {
  imapPasswordEncrypted: _imapSecret,
  smtpPasswordEncrypted: _smtpSecret,
  ...publicColumns
} = getTableColumns(mailboxes);

/** The columns an operator sets (everything but the id, the secrets, the pause and timestamps). */
export type MailboxSettingKey = Exclude<
  keyof typeof publicColumns,
  "id" | "pauseReason" | "pausedAt" | "pausedUntil" | "pauseDetail" | "createdAt" | "updatedAt"
>;

/** The two secrets, in plaintext, as callers hand them over; stored only encrypted. */
interface MailboxSecrets {
  imapPassword: string;
  smtpPassword: string;
}

/** What creating a mailbox takes: columns with a database default may be left out. */
export type MailboxSettings = Pick<typeof mailboxes.$inferInsert, MailboxSettingKey> &
  MailboxSecrets;

/** Every setting with its value (defaults applied), and both secrets. */
export type FullMailboxSettings = Pick<Mailbox, MailboxSettingKey> & MailboxSecrets;

/** Why and until when a mailbox's sending is paused (null when it is not). */
export interface MailboxPause {
  reason: MailboxPauseReason;
  pausedAt: string;
  /** Null: until an operator fixes it (`mailboxes:update`, `verify-smtp`, `resume`). */
  pausedUntil: string | null;
  detail: string | null;
}

/** A mailbox as it may be shown: no password and no ciphertext. */
export type PublicMailbox = { id: string } & Pick<Mailbox, MailboxSettingKey> & {
    /** The pause in force now; a provider limit that has run out shows as null. */
    pause: MailboxPause | null;
    createdAt: string;
    updatedAt: string;
  };

type PublicRow = Omit<PublicMailbox, "createdAt" | "updatedAt" | "pause"> & {
  pauseReason: MailboxPauseReason | null;
  pausedAt: Date | null;
  pausedUntil: Date | null;
  pauseDetail: string | null;
  createdAt: Date;
  updatedAt: Date;
};

function toPublic(row: PublicRow, now = new Date()): PublicMailbox {
  const { pauseReason, pausedAt, pausedUntil, pauseDetail, ...rest } = row;
  const inForce =
    pauseReason !== null && pausedAt !== null && (pausedUntil === null || pausedUntil > now);
  return {
    ...rest,
    pause: inForce
      ? {
          reason: pauseReason,
          pausedAt: pausedAt.toISOString(),
          pausedUntil: pausedUntil?.toISOString() ?? null,
          detail: pauseDetail,
        }
      : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** `id|email` → a condition: a UUID matches the id, anything else the email, case-insensitively. */
function mailboxSelector(idOrEmail: string) {
  return isUuid(idOrEmail)
    ? eq(mailboxes.id, idOrEmail.toLowerCase())
    : eq(sql`lower(${mailboxes.email})`, idOrEmail.toLowerCase());
}

/** A duplicate email gets its own message; every other failure is mapped by withDatabaseErrors. */
function rethrowIntegrity(error: unknown, email: string | undefined): never {
  if (
    integrityErrorCode(error) === "unique_violation" &&
    violatedConstraint(error) === "mailboxes_email_lower_key"
  ) {
    throw new DatabaseError(
      "unique_violation",
      `A mailbox for ${email ?? "that email"} already exists (emails are compared case-insensitively).`,
    );
  }
  throw error;
}

export const createMailbox = withDatabaseErrors(async function createMailbox(
  db: Database,
  sealer: SecretSealer,
  settings: MailboxSettings,
): Promise<PublicMailbox> {
  const { imapPassword, smtpPassword, ...plain } = settings;
  try {
    const [row] = await db
      .insert(mailboxes)
      .values({
        ...plain,
        imapPasswordEncrypted: sealer.encryptSecret(imapPassword),
        smtpPasswordEncrypted: sealer.encryptSecret(smtpPassword),
      })
      .returning(publicColumns);
    return toPublic(row!);
  } catch (error) {
    rethrowIntegrity(error, settings.email);
  }
});

export const listMailboxes = withDatabaseErrors(async function listMailboxes(
  db: Database,
): Promise<PublicMailbox[]> {
  const rows = await db
    .select(publicColumns)
    .from(mailboxes)
    .orderBy(asc(mailboxes.email), asc(mailboxes.id));
  return rows.map((row) => toPublic(row));
});

export const findMailbox = withDatabaseErrors(async function findMailbox(
  db: Database,
  idOrEmail: string,
): Promise<PublicMailbox | undefined> {
  const [row] = await db
    .select(publicColumns)
    .from(mailboxes)
    .where(mailboxSelector(idOrEmail))
    .limit(1);
  return row === undefined ? undefined : toPublic(row);
});

export const getMailbox = withDatabaseErrors(async function getMailbox(
  db: Database,
  idOrEmail: string,
): Promise<PublicMailbox> {
  const mailbox = await findMailbox(db, idOrEmail);
  if (mailbox === undefined)
    throw new DatabaseError("not_found", `No mailbox matches ${quoted(idOrEmail)}.`);
  return mailbox;
});

/** The stored row with its ciphertexts, for code that must decrypt (SMTP, rotation). */
export const findMailboxRow = withDatabaseErrors(async function findMailboxRow(
  db: Database,
  idOrEmail: string,
): Promise<Mailbox | undefined> {
  const [row] = await db.select().from(mailboxes).where(mailboxSelector(idOrEmail)).limit(1);
  return row;
});

export const updateMailbox = withDatabaseErrors(async function updateMailbox(
  db: Database,
  sealer: SecretSealer,
  id: string,
  changes: Partial<FullMailboxSettings>,
): Promise<PublicMailbox> {
  const { imapPassword, smtpPassword, ...plain } = changes;
  const values: Partial<typeof mailboxes.$inferInsert> = { ...plain };
  if (imapPassword !== undefined) values.imapPasswordEncrypted = sealer.encryptSecret(imapPassword);
  if (smtpPassword !== undefined) values.smtpPasswordEncrypted = sealer.encryptSecret(smtpPassword);
  if (Object.keys(values).length === 0)
    throw new DatabaseError("invalid_input", "Nothing to update.");
  try {
    const [row] = await db
      .update(mailboxes)
      // An operator changing the mailbox is the fix a pause waits for: sending resumes.
      .set({ ...values, ...NOT_PAUSED })
      .where(eq(mailboxes.id, id))
      .returning(publicColumns);
    if (row === undefined) throw new DatabaseError("not_found", `No mailbox has id ${id}.`);
    return toPublic(row);
  } catch (error) {
    if (error instanceof DatabaseError) throw error;
    rethrowIntegrity(error, changes.email);
  }
});

const NOT_PAUSED = {
  pauseReason: null,
  pausedAt: null,
  pausedUntil: null,
  pauseDetail: null,
} as const;

/** Lifts a mailbox's pause (`mailboxes:resume`, a passing `verify-smtp`); its queue sends again. */
export const resumeMailbox = withDatabaseErrors(async function resumeMailbox(
  db: Database,
  id: string,
): Promise<PublicMailbox> {
  const [row] = await db
    .update(mailboxes)
    .set(NOT_PAUSED)
    .where(eq(mailboxes.id, id))
    .returning(publicColumns);
  if (row === undefined) throw new DatabaseError("not_found", `No mailbox has id ${id}.`);
  return toPublic(row);
});

export interface MailboxDeletion {
  mailbox: PublicMailbox;
  /** Finished (sent, failed, bounced) message records removed with the mailbox. */
  finishedMessagesDeleted: number;
}

const FINISHED = ["sent", "failed", "bounced"] as const;

/**
 * Deletes a mailbox and its finished message records (sent, failed, bounced) in one
 * transaction, unless other mail remains. Only finished rows are deleted, and the status is
 * re-checked row by row as they are deleted, so a row requeued meanwhile (failed → queued by a
 * concurrent transaction) stays; the ON DELETE RESTRICT foreign keys then refuse to delete its
 * message and the mailbox (`still_has_mail`, with how many remain). No count decides anything,
 * so none can go stale between a check and the delete. The mailbox row is locked first, so nothing can be enqueued for it in between (an
 * enqueue's foreign-key check waits on that lock).
 */
export const deleteMailbox = withDatabaseErrors(async function deleteMailbox(
  db: Database,
  id: string,
): Promise<MailboxDeletion> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select(publicColumns)
      .from(mailboxes)
      .where(eq(mailboxes.id, id))
      .for("update");
    if (row === undefined) throw new DatabaseError("not_found", `No mailbox has id ${id}.`);
    const finished = await tx
      .delete(outboundMessages)
      .where(
        and(eq(outboundMessages.mailboxId, id), inArray(outboundMessages.status, [...FINISHED])),
      )
      .returning({ id: outboundMessages.id });
    try {
      // In a savepoint, so that after a refusal the transaction can still say what remains.
      await tx.transaction(async (savepoint) => {
        // Their submissions go too (bodies and idempotency keys cascade from them).
        await savepoint.delete(messages).where(eq(messages.mailboxId, id));
        await savepoint.delete(mailboxes).where(eq(mailboxes.id, id));
      });
    } catch (error) {
      if (integrityErrorCode(error) !== "foreign_key_violation") throw error;
      const [left] = await tx
        .select({ n: count() })
        .from(outboundMessages)
        .where(eq(outboundMessages.mailboxId, id));
      throw new DatabaseError(
        "still_has_mail",
        `Mailbox ${row.email} still has ${left?.n ?? "some"} queued or in-flight message(s); let them finish (or fail) before deleting it.`,
      );
    }
    return { mailbox: toPublic(row), finishedMessagesDeleted: finished.length };
  });
});

/** Whether any secret is stored (every mailbox holds two): a lost key cannot be replaced then. */
export const storedSecretsExist = withDatabaseErrors(async function storedSecretsExist(
  db: Database,
): Promise<boolean> {
  const rows = await db.select({ id: mailboxes.id }).from(mailboxes).limit(1);
  return rows.length > 0;
});

export interface RotationReport {
  mailboxes: number;
  rewritten: number;
}

/** Both stored secrets of the mailboxes after `after`, in id order (keyset pagination). */
function secretsPage(db: Pick<Database, "select">, after: string, limit: number) {
  return db
    .select({
      id: mailboxes.id,
      imap: mailboxes.imapPasswordEncrypted,
      smtp: mailboxes.smtpPasswordEncrypted,
    })
    .from(mailboxes)
    .where(gt(mailboxes.id, after))
    .orderBy(asc(mailboxes.id))
    .limit(limit);
}

export interface SecretsCheck {
  /** Mailboxes read (each holds two secrets). */
  mailboxes: number;
  /** Ids of mailboxes with a secret that no configured key decrypts. */
  undecryptable: string[];
  /** Mailboxes whose secrets decrypt, but not both under the first (current) key. */
  underOlderKey: number;
}

/**
 * Tries every stored secret against the configured keys (`keys:check`; rotation refuses while
 * any fails). Reads in pages of 500; writes nothing.
 */
export const checkMailboxSecrets = withDatabaseErrors(async function checkMailboxSecrets(
  db: Database,
  rotator: SecretRotator,
): Promise<SecretsCheck> {
  const check: SecretsCheck = { mailboxes: 0, undecryptable: [], underOlderKey: 0 };
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const page = await secretsPage(db, after, 500);
    for (const row of page) {
      check.mailboxes += 1;
      try {
        rotator.decrypt(row.imap);
        rotator.decrypt(row.smtp);
        if (rotator.needsRotation(row.imap) || rotator.needsRotation(row.smtp))
          check.underOlderKey += 1;
      } catch {
        check.undecryptable.push(row.id);
      }
    }
    if (page.length < 500) return check;
    after = page[page.length - 1]!.id;
  }
});

/**
 * Re-encrypts every stored secret under the rotator's current key, `batchSize` mailboxes per
 * transaction. Each committed batch is fully rewritten and every other row is untouched, so an
 * interruption leaves only rows that the configured keys still decrypt. Idempotent: rows already
 * under the current key are skipped and not counted.
 */
export const rotateMailboxSecrets = withDatabaseErrors(async function rotateMailboxSecrets(
  db: Database,
  rotator: SecretRotator,
  options: { batchSize?: number } = {},
): Promise<RotationReport> {
  const failing = (await checkMailboxSecrets(db, rotator)).undecryptable;
  if (failing.length > 0) {
    throw new DatabaseError(
      "undecryptable_secret",
      `Refusing to rotate: no configured key decrypts the secrets of mailbox(es) ${failing.join(", ")}; add the key that encrypted them to FERNET_KEY.`,
    );
  }
  const batchSize = options.batchSize ?? 200;
  const report: RotationReport = { mailboxes: 0, rewritten: 0 };
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const { seen, last, rewritten } = await db.transaction(async (tx) => {
      const page = await secretsPage(tx, after, batchSize).for("update");
      let changed = 0;
      for (const row of page) {
        const imap = rotator.needsRotation(row.imap) ? rotator.rotate(row.imap) : undefined;
        const smtp = rotator.needsRotation(row.smtp) ? rotator.rotate(row.smtp) : undefined;
        if (imap === undefined && smtp === undefined) continue;
        await tx
          .update(mailboxes)
          .set({
            ...(imap === undefined ? {} : { imapPasswordEncrypted: imap }),
            ...(smtp === undefined ? {} : { smtpPasswordEncrypted: smtp }),
          })
          .where(eq(mailboxes.id, row.id));
        changed += 1;
      }
      return { seen: page.length, last: page[page.length - 1]?.id, rewritten: changed };
    });
    report.mailboxes += seen;
    report.rewritten += rewritten;
    if (seen < batchSize || last === undefined) return report;
    after = last;
  }
});
