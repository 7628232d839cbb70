import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    new Command("bounces")
      .description(
        "read bounce and complaint reports from INBOX (and Junk), read-only, and mark recipients bounced",
      )
      .option(
        "--mailbox <id|email>",
        "this mailbox (default: every mailbox with bounce reading on)",
      )
      .option("--watch", "keep reading with IDLE until interrupted"),
  );

export type BouncesFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const bounces = (io: Io) =>
  options().action(async (flags) => (await import("../actions/imap.ts")).runBounces(flags, io));
