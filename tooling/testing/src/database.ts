import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "@imap-proxy/db/client";
import { migrate } from "@imap-proxy/db";

export interface TestDatabase extends DatabaseHandle {
  /** The Postgres URL of this isolated database, or undefined on in-memory PGlite. */
  readonly url: string | undefined;
}

/**
 * An isolated, empty database for one test file: a fresh in-memory PGlite, or, when
 * DATABASE_URL is set, a new Postgres database dropped again on close.
 */
export async function openTestDatabase(
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const handle = await openDatabase({ kind: "pglite-memory" });
    if (migrated) await migrate(handle);
    return { ...handle, url: undefined };
  }
  const name = `imap_proxy_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: "postgres", url: url.toString() });
  if (migrated) await migrate(handle);
  return {
    ...handle,
    url: url.toString(),
    async close() {
      await handle.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end({ timeout: 5 });
    },
  };
}
