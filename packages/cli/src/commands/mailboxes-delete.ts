import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    new Command("mailboxes:delete")
      .description("delete a mailbox; refused while mail is queued or in flight")
      .argument("<id|email>")
      .option("-y, --yes", "do not ask for confirmation"),
  );

export type MailboxesDeleteFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const mailboxesDelete = (io: Io) =>
  options().action(async (idOrEmail, flags) =>
    (await import("../actions/mailboxes-delete.ts")).runMailboxesDelete(idOrEmail, flags, io),
  );
