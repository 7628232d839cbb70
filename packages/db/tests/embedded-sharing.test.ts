import { FernetKey, Keyring } from "@imap-proxy/crypto";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  utimesSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type DatabaseHandle,
  DatabaseError,
  type MailboxSettings,
  type SharedDatabase,
  createMailbox,
  deleteMailbox,
  findMailboxRow,
  inArray,
  mailboxes,
  migrate,
  openDatabase,
  rotateMailboxSecrets,
  rowsOf,
  shareEmbeddedDatabase,
  sql,
} from "../src/index.ts";
import { claim, enqueue, markSentMany } from "../src/queue/index.ts";
import { openTestDatabase } from "@imap-proxy/testing/database";
import { exitOf, startEmbeddedHolder } from "@imap-proxy/testing/embedded-holder";
import { mailboxInsert } from "./helpers.ts";

/**
 * The races of issue 17, run the same way on both backends: on PGlite a server process's own
 * handle plus clients connected through its socket (as `serve` and CLI commands are); on
 * Postgres the same steps on separate connections. The assertions are the same for both.
 */
const onPostgres = Boolean(process.env.DATABASE_URL);

let server: DatabaseHandle;
let shared: SharedDatabase | undefined;
let dataDir: string | undefined;
let postgresUrl: string | undefined;
let closeServer: () => Promise<void>;
const clients: DatabaseHandle[] = [];

// Creating an on-disk PGlite database takes seconds, far more on a loaded machine.
const SLOW = 240_000;

beforeAll(async () => {
  if (onPostgres) {
    const database = await openTestDatabase();
    server = database;
    postgresUrl = database.url;
    closeServer = () => database.close();
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), "imap-proxy-shared-"));
    const handle = await openDatabase({ kind: "pglite", dataDir });
    await migrate(handle);
    server = handle;
    shared = await shareEmbeddedDatabase(handle, { graceMs: 1_500, idleInTransactionMs: 3_000 });
    let closed = false;
    closeServer = async () => {
      if (!closed) {
        closed = true;
        await shared?.stop();
        await handle.close();
      }
    };
  }
}, SLOW);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await closeServer();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Another process's connection: through the server's socket, or another Postgres connection. */
async function openClient(): Promise<DatabaseHandle> {
  const client = onPostgres
    ? await openDatabase({ kind: "postgres", url: postgresUrl! })
    : await openDatabase({ kind: "pglite", dataDir: dataDir!, lockWaitMs: 0 });
  expect(client.driver).toBe("postgres-js");
  clients.push(client);
  return client;
}

const oldKey = FernetKey.generate();
const newKey = FernetKey.generate();
const sealer = Keyring.parse(oldKey);

function settings(email: string): MailboxSettings {
  return {
    email,
    imapHost: "imap.example.com",
    imapPort: 993,
    imapUsername: email,
    imapPassword: "imap-secret",
    smtpHost: "smtp.example.com",
    smtpPort: 587,
    smtpUsername: email,
    smtpPassword: `smtp-secret-${email}`,
    smtpTlsMode: "starttls_required",
  };
}

const unique = (label: string) => `${label}-${Math.random().toString(36).slice(2)}@example.com`;

async function emailsPresent(emails: string[]): Promise<string[]> {
  const rows = await server.db
    .select({ email: mailboxes.email })
    .from(mailboxes)
    .where(inArray(mailboxes.email, emails))
    .orderBy(mailboxes.email);
  return rows.map((row) => row.email);
}

test("a client's transaction never takes in another session's statements", async () => {
  const client = await openClient();
  const rolledBack = unique("rolled-back");
  const committed = unique("committed");
  let serverWrite: Promise<unknown> | undefined;
  await expect(
    client.db.transaction(async (tx) => {
      await tx.execute(mailboxInsert({ email: rolledBack }));
      // The server writes while the client's transaction is open, and the client goes on.
      serverWrite = createMailbox(server.db, sealer, settings(committed));
      for (let i = 0; i < 5; i++) await tx.execute(sql`SELECT count(*) FROM mailboxes`);
      throw new Error("roll back");
    }),
  ).rejects.toThrow("roll back");
  await serverWrite;
  // Interleaved into one session, the server's insert would have been rolled back with it.
  expect(await emailsPresent([rolledBack, committed])).toEqual([committed]);
});

test("two mailboxes:create at once: one address once, different addresses both", async () => {
  const [first, second] = [await openClient(), await openClient()];
  const email = unique("same");
  const outcomes = await Promise.allSettled([
    createMailbox(first.db, sealer, settings(email)),
    createMailbox(second.db, sealer, settings(email)),
  ]);
  expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
  const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
  expect(refused.reason).toBeInstanceOf(DatabaseError);
  expect((refused.reason as DatabaseError).code).toBe("unique_violation");

  const many = Array.from({ length: 8 }, (_, i) => unique(`many${i}`));
  await Promise.all(
    many.map((address, i) => createMailbox((i % 2 ? first : second).db, sealer, settings(address))),
  );
  expect(await emailsPresent([email, ...many])).toEqual([email, ...many].sort());
});

/** The worker's side: claim and mark sent until nothing is left; every lease must still hold. */
async function work(
  db: DatabaseHandle["db"],
  owner: string,
  onClaim?: (id: string) => Promise<void>,
) {
  let sent = 0;
  for (;;) {
    const claimed = await claim(db, { limit: 2, owner });
    if (claimed.length === 0) return sent;
    for (const message of claimed) await onClaim?.(message.mailboxId);
    const result = await markSentMany(
      db,
      claimed.map((message) => message.lease),
    );
    expect(result.rejected).toEqual([]);
    sent += result.finished.length;
  }
}

test("mailboxes:delete racing the worker's claims deletes only once everything is sent", async () => {
  const client = await openClient();
  const mailbox = await createMailbox(server.db, sealer, settings(unique("deleted")));
  const count = 30;
  await enqueue(
    server.db,
    mailbox.id,
    Array.from({ length: count }, (_, i) => ({
      recipientEmail: `r${i}@example.com`,
      subject: `s${i}`,
    })),
  );
  // Queued mail blocks deletion...
  await expect(deleteMailbox(client.db, mailbox.id)).rejects.toMatchObject({
    code: "still_has_mail",
  });
  // ...and while the worker claims and sends, deletion is refused until the last one is sent.
  const deleting = (async () => {
    for (;;) {
      try {
        return await deleteMailbox(client.db, mailbox.id);
      } catch (error) {
        expect((error as DatabaseError).code).toBe("still_has_mail");
      }
    }
  })();
  const sent = await work(server.db, "worker-delete-race");
  const deletion = await deleting;
  expect(sent).toBe(count);
  expect(deletion.finishedMessagesDeleted).toBe(count);
  const left = rowsOf<{ n: number }>(
    await server.db.execute(
      sql`SELECT count(*)::int AS n FROM outbound_messages WHERE mailbox_id = ${mailbox.id}`,
    ),
  );
  expect(left[0]!.n).toBe(0);
});

test("keys:rotate while messages are claimed and sent: every secret readable throughout", async () => {
  const client = await openClient();
  const both = Keyring.parse(`${newKey},${oldKey}`);
  const onlyNew = Keyring.parse(newKey);
  const created = await Promise.all(
    Array.from({ length: 6 }, () => createMailbox(server.db, sealer, settings(unique("rotated")))),
  );
  for (const mailbox of created) {
    await enqueue(
      server.db,
      mailbox.id,
      Array.from({ length: 5 }, (_, i) => ({ recipientEmail: `r${i}@example.com`, subject: "s" })),
    );
  }
  // The worker decrypts each claimed message's SMTP password, as sending does.
  const readSecret = async (mailboxId: string) => {
    const row = await findMailboxRow(server.db, mailboxId);
    expect(both.decryptSecret(row!.smtpPasswordEncrypted)).toBe(`smtp-secret-${row!.email}`);
  };
  const [sent, report] = await Promise.all([
    work(server.db, "worker-rotate-race", readSecret),
    rotateMailboxSecrets(client.db, both, { batchSize: 2 }),
  ]);
  expect(sent).toBe(30);
  expect(report.rewritten).toBeGreaterThanOrEqual(created.length);
  for (const mailbox of created) {
    const row = await findMailboxRow(server.db, mailbox.id);
    expect(onlyNew.decryptSecret(row!.smtpPasswordEncrypted)).toBe(`smtp-secret-${mailbox.email}`);
    expect(onlyNew.decryptSecret(row!.imapPasswordEncrypted)).toBe("imap-secret");
  }
});

/** A mailbox row written with a bare client's own SQL. */
function insertMailboxRow(session: postgres.Sql | postgres.TransactionSql, email: string) {
  const token = Buffer.from("gAAAA-x");
  return session`INSERT INTO mailboxes (email, imap_host, imap_username, imap_password_encrypted,
    smtp_host, smtp_username, smtp_password_encrypted)
    VALUES (${email}, 'h', 'u', ${token}, 'h', 'u', ${token})`;
}

/** A bare client on the server's socket, to misbehave as a killed or stalled CLI would. */
async function rawClient(): Promise<postgres.Sql> {
  const client = postgres({
    path: shared!.path,
    username: "postgres",
    database: "postgres",
    prepare: false,
    max: 1,
    fetch_types: false,
    onnotice: () => {},
  });
  // postgres.js reserves only from an open connection.
  await client`SELECT 1`;
  return client;
}

describe.runIf(!onPostgres)("the socket of a running server", () => {
  test("is owner-only, inside an owner-only data directory", () => {
    expect(shared!.path).toBe(path.join(dataDir!, ".s.PGSQL.5432"));
    const socket = statSync(shared!.path);
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect(statSync(dataDir!).mode & 0o777).toBe(0o700);
  });

  test("a second server on the same directory is refused", async () => {
    const client = await openClient();
    await expect(shareEmbeddedDatabase(client)).rejects.toMatchObject({ code: "database_busy" });
  });

  test("a client that vanishes inside a transaction is rolled back, and the server goes on", async () => {
    const gone = unique("vanished");
    const raw = await rawClient();
    const session = await raw.reserve();
    await session`BEGIN`;
    await insertMailboxRow(session, gone);
    // The server's own work waits for the client's transaction...
    const serverWrite = createMailbox(server.db, sealer, settings(unique("after-vanish")));
    // ...until the client is gone (killed: its connection just closes).
    await raw.end({ timeout: 0 });
    await serverWrite;
    expect(await emailsPresent([gone])).toEqual([]);
  });

  test("a client that holds a transaction and goes silent is cut off", async () => {
    const silent = unique("silent");
    const raw = await rawClient();
    const session = await raw.reserve();
    await session`BEGIN`;
    await insertMailboxRow(session, silent);
    // Waits for the idle-in-transaction bound, then proceeds without the client's insert.
    await createMailbox(server.db, sealer, settings(unique("after-silence")));
    expect(await emailsPresent([silent])).toEqual([]);
    await raw.end({ timeout: 0 });
  });

  test("stopping lets a connected client finish, cuts off one that does not, then closes", async () => {
    const finishing = await rawClient();
    const stalling = await rawClient();
    const [done, cut] = [unique("finished"), unique("cut-off")];
    const finisher = await finishing.reserve();
    await finisher`BEGIN`;
    await insertMailboxRow(finisher, done);
    // Queued behind the finisher's transaction, then holds its own and never commits.
    const staller = stalling.begin(async (tx) => {
      await insertMailboxRow(tx, cut);
      await new Promise(() => {});
    });
    staller.catch(() => {});
    const stopped = shared!.stop();
    // No new clients: the socket is gone and the directory stays locked by this server.
    expect(existsSync(shared!.path)).toBe(false);
    await expect(
      openDatabase({ kind: "pglite", dataDir: dataDir!, lockWaitMs: 0 }),
    ).rejects.toMatchObject({
      code: "database_busy",
    });
    await finisher`COMMIT`;
    finisher.release();
    await finishing.end();
    await stopped;
    await expect(staller).rejects.toThrow();
    await stalling.end({ timeout: 0 });
    expect(await emailsPresent([done, cut])).toEqual([done]);
    await closeServer();
  });
});

/** Inodes of the TCP sockets listening on this machine. */
function listeningTcpInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A") inodes.add(fields[9]!); // 0A = LISTEN
    }
  }
  return inodes;
}

function socketInodesOf(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return "";
      }
    })
    .map((target) => /^socket:\[(\d+)\]$/.exec(target)?.[1])
    .filter((inode): inode is string => inode !== undefined);
}

// After the in-process server above has closed, other processes hold the same directory.
describe.runIf(!onPostgres)("another process holding the data directory", () => {
  test(
    "a served directory listens on nothing but its socket; a killed server's socket is cleaned up",
    { timeout: SLOW },
    async () => {
      const holder = await startEmbeddedHolder("share", dataDir!);
      const socketPath = path.join(dataDir!, ".s.PGSQL.5432");
      try {
        const tcp = listeningTcpInodes();
        expect(socketInodesOf(holder.pid!).filter((inode) => tcp.has(inode))).toEqual([]);
        expect(statSync(socketPath).isSocket()).toBe(true);
        const client = await openDatabase({ kind: "pglite", dataDir: dataDir!, lockWaitMs: 0 });
        expect(client.driver).toBe("postgres-js");
        await client.close();
      } finally {
        holder.kill("SIGKILL");
        await exitOf(holder);
      }
      // The socket file outlives its server; the next process sees nobody answers and takes over.
      expect(existsSync(socketPath)).toBe(true);
      const after = await openDatabase({ kind: "pglite", dataDir: dataDir!, lockWaitMs: 0 });
      try {
        expect(after.driver).toBe("pglite");
        expect(existsSync(socketPath)).toBe(false);
      } finally {
        await after.close();
      }
    },
  );

  test(
    "a stopped lock holder keeps its lock, however old its lock file looks",
    { timeout: SLOW },
    async () => {
      const holder = await startEmbeddedHolder("hold", dataDir!);
      try {
        holder.kill("SIGSTOP");
        // A timestamp-based lock would call this holder dead; the kernel's lock does not look.
        const past = new Date(Date.now() - 3_600_000);
        utimesSync(path.join(dataDir!, "lock"), past, past);
        await expect(
          openDatabase({ kind: "pglite", dataDir: dataDir!, lockWaitMs: 300 }),
        ).rejects.toThrow(`(pid ${holder.pid})`);
        holder.kill("SIGCONT");
        holder.kill("SIGTERM");
        await exitOf(holder);
        expect(holder.exitCode).toBe(0);
      } finally {
        holder.kill("SIGKILL");
      }
      const after = await openDatabase({ kind: "pglite", dataDir: dataDir!, lockWaitMs: 0 });
      await after.close();
    },
  );
});
