import path from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import lockfile from "proper-lockfile";
import { DatabaseError } from "./errors.ts";
import { ensurePrivateDataDir, makeTreePrivate } from "./private-directory.ts";
import * as schema from "./schema.ts";

export type Schema = typeof schema;
/** The drizzle API shared by both drivers; code written against it runs on either. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type DatabaseKind = "postgres" | "pglite";

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: DatabaseKind;
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

export interface OpenOptions {
  /** How long to wait for another process holding the embedded database. */
  lockWaitMs?: number;
}

export async function openDatabase(
  target: DatabaseTarget = databaseTargetFromEnv(),
  options: OpenOptions = {},
): Promise<DatabaseHandle> {
  switch (target.kind) {
    case "postgres":
      return openPostgres(target.url, target.maxConnections ?? 10);
    case "pglite":
      return openPglite(target.dataDir, options.lockWaitMs ?? target.lockWaitMs ?? 5_000);
    case "pglite-memory":
      return openPglite(undefined, 0);
  }
}

function openPostgres(url: string, maxConnections: number): DatabaseHandle {
  const client = postgres(url, {
    max: maxConnections,
    onnotice: () => {},
    // Short idle timeout so an abandoned pool never keeps a CLI process alive.
    idle_timeout: 5,
    connect_timeout: 10,
    // Skips a catalog query on every connect (~12 ms measured); only needed for arrays of
    // custom types, which this schema does not use.
    fetch_types: false,
  });
  const db = drizzlePostgres({ client, schema }) as unknown as Database;
  return {
    db,
    kind: "postgres",
    location: redactUrl(url),
    close: () => client.end({ timeout: 5 }),
  };
}

/** PGlite data lives in `<dataDir>/pglite`; a lock beside it keeps it to one process. */
export function pgliteDirectory(dataDir: string): string {
  return path.join(dataDir, "pglite");
}

async function openPglite(
  dataDir: string | undefined,
  lockWaitMs: number,
): Promise<DatabaseHandle> {
  let release: (() => Promise<void>) | undefined;
  if (dataDir !== undefined) {
    ensurePrivateDataDir(dataDir);
    release = await lockDataDir(dataDir, lockWaitMs);
  }
  try {
    // Loaded on demand so Postgres users never pay for the WebAssembly build.
    const [{ PGlite }, { drizzle }] = await Promise.all([
      import("@electric-sql/pglite"),
      import("drizzle-orm/pglite"),
    ]);
    const client = dataDir === undefined ? new PGlite() : new PGlite(pgliteDirectory(dataDir));
    await client.waitReady;
    if (dataDir !== undefined) makeTreePrivate(dataDir);
    const db = drizzle({ client, schema }) as unknown as Database;
    return {
      db,
      kind: "pglite",
      location: dataDir ?? "(in memory)",
      async close() {
        try {
          await client.close();
        } finally {
          await release?.();
        }
      },
    };
  } catch (error) {
    await release?.();
    throw error;
  }
}

async function lockDataDir(dataDir: string, waitMs: number): Promise<() => Promise<void>> {
  const pollMs = 100;
  try {
    return await lockfile.lock(dataDir, {
      lockfilePath: path.join(dataDir, "pglite.lock"),
      realpath: false,
      // A lock whose holder died (kill -9) is taken over once it stops being refreshed.
      stale: 10_000,
      retries: {
        retries: Math.ceil(waitMs / pollMs),
        minTimeout: pollMs,
        maxTimeout: pollMs,
        factor: 1,
      },
    });
  } catch (error) {
    if ((error as { code?: string }).code === "ELOCKED") {
      throw new DatabaseError(
        "database_busy",
        `The embedded database in ${dataDir} is in use by another imap-proxy process; try again when it has finished (or set DATABASE_URL to use Postgres).`,
      );
    }
    throw error;
  }
}
