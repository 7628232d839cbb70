import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import type * as PgliteModule from "@electric-sql/pglite";
import type { PGlite } from "@electric-sql/pglite";
import type * as DrizzlePglite from "drizzle-orm/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { type LockRole, type ReleaseLock, lockHolder, tryLockDataDir } from "./data-dir-lock.ts";
import { connectablePath, embeddedChannelPath } from "./embedded-channel.ts";
import { DatabaseError } from "./errors.ts";
import { markOnServer } from "./on-server.ts";
import { ensurePrivateDataDir, makeTreePrivate } from "./private-directory.ts";
import * as schema from "./schema.ts";

export type Schema = typeof schema;
/** The drizzle API shared by both drivers; code written against it runs on either. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type DatabaseKind = "postgres" | "pglite";

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: DatabaseKind;
  /**
   * The drizzle driver under `db`: "pglite" when this process opened the embedded database
   * itself, "postgres-js" for Postgres and for an embedded database reached through the running
   * server's socket.
   */
  readonly driver: "pglite" | "postgres-js";
  /** Where the data lives: the Postgres URL without its password, or the PGlite directory. */
  readonly location: string;
  close(): Promise<void>;
}

export type DatabaseTarget =
  | { kind: "postgres"; url: string; maxConnections?: number }
  | {
      kind: "pglite";
      dataDir: string;
      /** default 5 s (IMAP_PROXY_LOCK_WAIT_MS) */ lockWaitMs?: number;
    }
  | { kind: "pglite-memory" };

/** Default home of the embedded database and its generated key: `.data/` where you run. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  // pnpm runs scripts inside the package; INIT_CWD is where the operator typed the command.
  return path.resolve(env.INIT_CWD ?? process.cwd(), ".data");
}

export function dataDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.IMAP_PROXY_DATA_DIR;
  return configured ? path.resolve(configured) : defaultDataDir(env);
}

/** DATABASE_URL set → Postgres; unset → the embedded PGlite database in the data directory. */
export function databaseTargetFromEnv(env: NodeJS.ProcessEnv = process.env): DatabaseTarget {
  const url = env.DATABASE_URL;
  if (url !== undefined && url !== "") return { kind: "postgres", url };
  const wait = Number(env.IMAP_PROXY_LOCK_WAIT_MS);
  return {
    kind: "pglite",
    dataDir: dataDirFromEnv(env),
    ...(Number.isFinite(wait) && wait >= 0 && env.IMAP_PROXY_LOCK_WAIT_MS
      ? { lockWaitMs: wait }
      : {}),
  };
}

/** A URL safe to print: the password is replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

interface OpenOptions {
  /** How long to wait for another process holding the embedded database. */
  lockWaitMs?: number;
  /**
   * `server` (`serve`): this process will share the embedded database on its socket once it
   * has started, so processes waiting meanwhile keep waiting for that socket (see openEmbedded).
   */
  role?: LockRole;
  /** How long a process waits for a server that holds the lock to start sharing (default 2 min). */
  serverStartWaitMs?: number;
}

/** Bounds the wait for a starting server: a first start creates and migrates the database. */
const SERVER_START_WAIT_MS = 120_000;

export async function openDatabase(
  target: DatabaseTarget = databaseTargetFromEnv(),
  options: OpenOptions = {},
): Promise<DatabaseHandle> {
  switch (target.kind) {
    case "postgres":
      return openPostgres(target.url, target.maxConnections ?? 10);
    case "pglite":
      return openEmbedded(target.dataDir, {
        lockWaitMs: options.lockWaitMs ?? target.lockWaitMs ?? 5_000,
        role: options.role ?? "command",
        serverStartWaitMs: options.serverStartWaitMs ?? SERVER_START_WAIT_MS,
      });
    case "pglite-memory":
      return openPglite(
        undefined,
        undefined,
        await Promise.all([import("@electric-sql/pglite"), import("drizzle-orm/pglite")]),
      );
  }
}

const POSTGRES_OPTIONS = {
  onnotice: () => {},
  // Short idle timeout so an abandoned pool never keeps a CLI process alive.
  idle_timeout: 5,
  connect_timeout: 10,
  // Skips a catalog query on every connect (~12 ms measured); only needed for arrays of
  // custom types, which this schema does not use.
  fetch_types: false,
} as const;

/**
 * drizzle runs every statement unnamed (`prepare: false`), and postgres.js then describes each
 * statement with parameters before executing it: two round trips per statement. As named
 * statements, prepared once per connection and cached by their text, each takes one round trip
 * after its first use. The same holds inside transactions and savepoints.
 */
function namedStatements<T extends postgres.Sql>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === "unsafe") {
        return (query: string, parameters?: never[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, parameters, { ...options, prepare: true });
      }
      if (property === "begin" || property === "savepoint") {
        const open = Reflect.get(target, property, receiver) as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const body = args.pop() as (sql: postgres.Sql) => unknown;
          return open(...args, (sql: postgres.Sql) => body(namedStatements(sql)));
        };
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

function openPostgres(url: string, maxConnections: number): DatabaseHandle {
  const client = postgres(url, { ...POSTGRES_OPTIONS, max: maxConnections });
  const db = drizzlePostgres({ client: namedStatements(client), schema }) as unknown as Database;
  markOnServer(db);
  return {
    db,
    kind: "postgres",
    driver: "postgres-js",
    location: redactUrl(url),
    close: () => client.end({ timeout: 5 }),
  };
}

/** PGlite data lives in `<dataDir>/pglite`; the lock beside it keeps it to one process. */
export function pgliteDirectory(dataDir: string): string {
  return path.join(dataDir, "pglite");
}

type PgliteModules = [typeof PgliteModule, typeof DrizzlePglite];

/** The PGlite instance behind handles this process opened on a data directory (for sharing). */
const embeddedInstances = new WeakMap<DatabaseHandle, { pglite: PGlite; dataDir: string }>();

export function embeddedInstanceOf(
  handle: DatabaseHandle,
): { pglite: PGlite; dataDir: string } | undefined {
  return embeddedInstances.get(handle);
}

/**
 * The embedded database: through the socket of a server process that holds it (`serve`), else
 * opened here under the directory's lock. Each round tries the socket first, then the lock.
 * Another command holding the lock is waited for up to `lockWaitMs`; a server holding it (still
 * starting: creating, migrating) is waited for until its socket answers, up to
 * `serverStartWaitMs`, so a command started beside a starting `serve` connects the moment it
 * shares instead of failing after the lock wait.
 */
async function openEmbedded(
  dataDir: string,
  wait: { lockWaitMs: number; role: LockRole; serverStartWaitMs: number },
): Promise<DatabaseHandle> {
  ensurePrivateDataDir(dataDir);
  // Loaded while the lock is sought: Postgres users never pay for the WebAssembly build.
  const modules = Promise.all([import("@electric-sql/pglite"), import("drizzle-orm/pglite")]);
  modules.catch(() => {});
  const started = Date.now();
  for (;;) {
    const served = await connectToServer(dataDir);
    if (served) return served;
    const release = await tryLockDataDir(dataDir, wait.role);
    if (release) return openPglite(dataDir, release, await modules);
    const holder = lockHolder(dataDir);
    const waited = Date.now() - started;
    const serverStarting = holder?.role === "server";
    if (
      waited >=
      (serverStarting ? Math.max(wait.lockWaitMs, wait.serverStartWaitMs) : wait.lockWaitMs)
    ) {
      const who = holder ? ` (pid ${holder.pid})` : "";
      throw new DatabaseError(
        "database_busy",
        serverStarting
          ? `The embedded database in ${dataDir} is held by an imap-proxy server${who} that has not started sharing it after ${Math.round(waited / 1000)} s; check that server (or set DATABASE_URL to use Postgres).`
          : `The embedded database in ${dataDir} is in use by another imap-proxy process${who}; try again when it has finished (or set DATABASE_URL to use Postgres).`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A connection through the running server's socket, or undefined when no server answers. */
async function connectToServer(dataDir: string): Promise<DatabaseHandle | undefined> {
  const socketPath = embeddedChannelPath(dataDir);
  const connectPath = connectablePath(socketPath);
  if (connectPath === undefined || !existsSync(socketPath)) return undefined;
  const client = postgres({
    ...POSTGRES_OPTIONS,
    path: connectPath,
    username: "postgres",
    database: "postgres",
    max: 4,
    // Named statements would outlive this client in the server's single session.
    prepare: false,
  });
  try {
    await client`SELECT 1`;
  } catch (error) {
    await client.end({ timeout: 0 });
    // A socket file nobody listens on (the server died, or is stopping): not a server.
    if (["ECONNREFUSED", "ENOENT", "ECONNRESET", "CONNECTION_CLOSED"].includes(errorCode(error)))
      return undefined;
    throw error;
  }
  const db = drizzlePostgres({ client, schema }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    driver: "postgres-js",
    location: dataDir,
    close: () => client.end({ timeout: 5 }),
  };
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : "";
}

async function openPglite(
  dataDir: string | undefined,
  release: ReleaseLock | undefined,
  [{ PGlite }, { drizzle }]: PgliteModules,
): Promise<DatabaseHandle> {
  try {
    // Holding the lock, so a socket file here was left by a server that died.
    if (dataDir !== undefined) rmSync(embeddedChannelPath(dataDir), { force: true });
    const client = dataDir === undefined ? new PGlite() : new PGlite(pgliteDirectory(dataDir));
    await client.waitReady;
    if (dataDir !== undefined) makeTreePrivate(dataDir);
    const db = drizzle({ client, schema }) as unknown as Database;
    const handle: DatabaseHandle = {
      db,
      kind: "pglite",
      driver: "pglite",
      location: dataDir ?? "(in memory)",
      async close() {
        try {
          await client.close();
        } finally {
          release?.();
        }
      },
    };
    if (dataDir !== undefined) embeddedInstances.set(handle, { pglite: client, dataDir });
    return handle;
  } catch (error) {
    release?.();
    throw error;
  }
}
