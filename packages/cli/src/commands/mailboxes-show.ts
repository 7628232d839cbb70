import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

export const mailboxesShow = (io: Io) =>
  withCommonOptions(
    new Command("mailboxes:show").description("show one mailbox").argument("<id|email>"),
  ).action(async (idOrEmail, flags) =>
    (await import("../actions/mailboxes-show.ts")).runMailboxesShow(idOrEmail, flags, io),
  );
