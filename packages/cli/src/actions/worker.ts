import { quoted } from "@imap-proxy/errors";
import { databaseTargetFromEnv, openDatabase, prepareSchema } from "@imap-proxy/db";
import { DEFAULT_SENDER_CONCURRENCY, startSender } from "@imap-proxy/sender";
import { imapExtraCaFromEnv } from "@imap-proxy/imap";
import { extraCaFromEnv } from "@imap-proxy/smtp";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor } from "../runtime.ts";
import { type CommonFlags, describeError } from "./common.ts";

/** After SIGINT/SIGTERM, running sends get this long to finish before the process exits. */
const STOP_BOUND_MS = 30_000;

export function concurrencyFromFlag(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SENDER_CONCURRENCY;
  if (!/^[1-9][0-9]{0,3}$/.test(value))
    throw new CliError(
      "invalid_input",
      `Invalid --concurrency ${quoted(value)}: a whole number 1–9999.`,
    );
  return Number(value);
}

/**
 * `imap-proxy worker`: sends queued mail until SIGINT/SIGTERM, then stops claiming, lets
 * running sends finish (bounded), gives prefetched messages back and exits 0. Postgres only:
 * the embedded database is one process, where `imap-proxy serve` sends.
 */
export async function runWorkerCommand(
  flags: CommonFlags & { concurrency?: string },
  io: Io,
): Promise<void> {
  const concurrency = concurrencyFromFlag(flags.concurrency);
  const target = databaseTargetFromEnv(io.env);
  if (target.kind !== "postgres")
    throw new CliError(
      "invalid_input",
      "imap-proxy worker needs DATABASE_URL (Postgres); on the embedded database `imap-proxy serve` sends mail itself.",
    );
  const handle = await openDatabase(target);
  try {
    await prepareSchema(handle);
    const keyring = await keyringFor(io, handle);
    const sender = startSender({
      db: handle.db,
      keyring,
      concurrency,
      smtp: { extraCa: extraCaFromEnv(io.env) },
      imap: {
        imap: { extraCa: imapExtraCaFromEnv(io.env) },
        onError: (error, { task, mailboxId }) => {
          const { code, message } = describeError(error);
          writeLine(
            io.stderr,
            `${task}${mailboxId ? ` (mailbox ${mailboxId})` : ""}: ${code ? `${code}: ` : ""}${message}`,
          );
        },
      },
    });
    const stop = (signal: string) => {
      writeLine(io.stderr, `${signal}: finishing running sends, then stopping.`);
      setTimeout(() => {
        writeLine(io.stderr, `Sends still running after ${STOP_BOUND_MS / 1000} s; exiting.`);
        process.exit(1);
      }, STOP_BOUND_MS).unref();
      void sender.stop();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    writeLine(
      io.stderr,
      `Worker sending from ${handle.location} with concurrency ${concurrency}; Sent copies and bounce reading on.`,
    );
    const report = await sender.stopped;
    if (flags.json) writeJson(io, report);
    else
      writeLine(
        io.stdout,
        `Stopped: ${report.processed} handled, ${report.leaseLost} lease(s) lost.`,
      );
  } finally {
    await handle.close();
  }
}
