import { PERMISSION_NAMES } from "@imap-proxy/auth/permissions";
import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";
import { withCommonOptions } from "./options.ts";

const options = () =>
  withCommonOptions(
    new Command("tokens:issue")
      .description("issue a JWT granting permissions on one mailbox (needs JWT_SECRET)")
      .option("--mailbox <id|email>", "the mailbox the token is for")
      .option(
        "--permission <name>",
        `a permission to grant, repeatable: ${PERMISSION_NAMES.join(", ")}`,
        (value: string, previous: string[] = []) => [...previous, value],
      )
      .option(
        "--expires-in <duration>",
        "lifetime such as 15m, 24h, 30d (default 1h, at most 90d)",
      ),
  );

export type TokensIssueFlags = ReturnType<ReturnType<typeof options>["opts"]>;

export const tokensIssue = (io: Io) =>
  options().action(async (flags) =>
    (await import("../actions/tokens.ts")).runTokensIssue(flags, io),
  );
