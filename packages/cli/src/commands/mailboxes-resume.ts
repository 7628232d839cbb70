import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

export const mailboxesResume = (io: Io) =>
  withCommonOptions(
    new Command("mailboxes:resume")
      .description("lift a mailbox's sending pause (after fixing what paused it)")
      .argument("<id|email>"),
  ).action(async (idOrEmail, flags) =>
    (await import("../actions/mailboxes-resume.ts")).runMailboxesResume(idOrEmail, flags, io),
  );
