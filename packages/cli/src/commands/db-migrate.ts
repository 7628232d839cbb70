import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

export const dbMigrate = (io: Io) =>
  withCommonOptions(
    new Command("db:migrate").description(
      "apply pending migrations to DATABASE_URL (or the embedded database)",
    ),
  ).action(async (flags) => (await import("../actions/db.ts")).runDbMigrate(flags, io));
