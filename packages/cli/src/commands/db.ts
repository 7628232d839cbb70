import {
  databaseTargetFromEnv,
  migrate,
  openDatabase,
  pendingMigrationCount,
} from "@imap-proxy/db";
import type { Command } from "commander";
import { type Io, writeJson, writeLine } from "../io.ts";
import { type CommonFlags, addCommonFlags } from "./common.ts";

export function registerDbCommands(program: Command, io: Io): void {
  addCommonFlags(
    program
      .command("db:migrate")
      .description("apply pending migrations to DATABASE_URL (or the embedded database)"),
  ).action(async (flags: CommonFlags) => {
    const handle = await openDatabase(databaseTargetFromEnv(io.env));
    try {
      const pending = await pendingMigrationCount(handle);
      await migrate(handle);
      if (flags.json) writeJson(io, { applied: pending, database: handle.location });
      else writeLine(io.stdout, `Applied ${pending} migration(s) to ${handle.location}.`);
    } finally {
      await handle.close();
    }
  });
}
