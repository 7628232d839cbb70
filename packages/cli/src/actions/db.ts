import {
  databaseTargetFromEnv,
  migrate,
  openDatabase,
  pendingMigrationCount,
} from "@imap-proxy/db";
import { type Io, writeJson, writeLine } from "../io.ts";
import type { CommonFlags } from "./common.ts";

export async function runDbMigrate(flags: CommonFlags, io: Io): Promise<void> {
  const handle = await openDatabase(databaseTargetFromEnv(io.env));
  try {
    const pending = await pendingMigrationCount(handle);
    await migrate(handle);
    if (flags.json) writeJson(io, { applied: pending, database: handle.location });
    else writeLine(io.stdout, `Applied ${pending} migration(s) to ${handle.location}.`);
  } finally {
    await handle.close();
  }
}
