import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

export const messagesRetry = (io: Io) =>
  withCommonOptions(
    new Command("messages:retry")
      .description("send a failed message again, on purpose (the only way for outcome_unknown)")
      .argument("<id>", "a message id (all its failed recipients) or one recipient's id"),
  ).action(async (id, flags) =>
    (await import("../actions/messages.ts")).runMessagesRetry(id, flags, io),
  );
