import { createRequire } from "node:module";
import path from "node:path";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { DatabaseHandle } from "./client.ts";
import { DatabaseError, sqlState, withDatabaseErrors } from "./errors.ts";
import { rowsOf } from "./rows.ts";

/**
 * The committed drizzle-kit migrations. Resolved through the package's own name so the path is
 * right both from source and from the CLI bundle (which lives in another package).
 */
export const migrationsFolder = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@imap-proxy/db/package.json")),
  "drizzle",
);

const MIGRATIONS_CONFIG = {
  migrationsFolder,
  migrationsSchema: "drizzle",
  migrationsTable: "__drizzle_migrations",
};

/** Applies every pending migration (drizzle runs them in one transaction). */
export const migrate = withDatabaseErrors(async function migrate(
  handle: DatabaseHandle,
): Promise<void> {
  if (handle.driver === "pglite") {
    await migratePglite(handle.db as never, MIGRATIONS_CONFIG);
  } else {
    await migratePostgres(handle.db as never, MIGRATIONS_CONFIG);
  }
});

/** How many of the code's migrations the database has not applied yet (drizzle's own rule). */
export async function pendingMigrationCount(handle: DatabaseHandle): Promise<number> {
  const migrations = readMigrationFiles(MIGRATIONS_CONFIG);
  let lastApplied = -1;
  try {
    const [state] = rowsOf<{ last: string | number | null }>(
      await handle.db.execute(
        sql`SELECT max(created_at) AS last FROM drizzle.__drizzle_migrations`,
      ),
    );
    if (state?.last !== null && state?.last !== undefined) lastApplied = Number(state.last);
  } catch (error) {
    // A database that was never migrated has no journal (schema or table missing).
    if (!["42P01", "3F000"].includes(sqlState(error) ?? "")) throw error;
  }
  return migrations.filter((migration) => migration.folderMillis > lastApplied).length;
}

/** Refuses to run against a database that is behind the code, naming the fix. */
export async function assertMigrated(handle: DatabaseHandle): Promise<void> {
  const pending = await pendingMigrationCount(handle);
  if (pending > 0) {
    throw new DatabaseError(
      "migrations_pending",
      `The database at ${handle.location} is missing ${pending} migration(s); run \`imap-proxy db:migrate\` first.`,
    );
  }
}

/**
 * What a command should do on open: the embedded database migrates itself; a DATABASE_URL
 * database is never migrated implicitly (deploys own that), only checked.
 */
export async function prepareSchema(handle: DatabaseHandle): Promise<void> {
  if (handle.kind === "pglite") await migrate(handle);
  else await assertMigrated(handle);
}
