import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

export const mailboxesList = (io: Io) =>
  withCommonOptions(
    new Command("mailboxes:list").description("list mailboxes (never passwords)"),
  ).action(async (flags) =>
    (await import("../actions/mailboxes-list.ts")).runMailboxesList(flags, io),
  );
