import { quoted, isUuid } from "@imap-proxy/errors";
import { retryFailed } from "@imap-proxy/db/queue";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { withDatabase } from "../runtime.ts";
import type { CommonFlags } from "./common.ts";

/**
 * `messages:retry <id>`: queues a failed recipient row (or every failed recipient of a
 * submission) again, on purpose. The only way an `outcome_unknown` message is sent again.
 */
export async function runMessagesRetry(id: string, flags: CommonFlags, io: Io): Promise<void> {
  if (!isUuid(id))
    throw new CliError("invalid_input", `${quoted(id)} is not a message or recipient id (a UUID).`);
  const queued = await withDatabase(io, ({ db }) => retryFailed(db, id.toLowerCase()));
  if (queued.length === 0)
    throw new CliError(
      "not_found",
      `Nothing to retry: no failed message or recipient has id ${id}.`,
    );
  if (flags.json) return writeJson(io, { queued });
  writeLine(io.stdout, `Queued again: ${queued.join(", ")}.`);
}
