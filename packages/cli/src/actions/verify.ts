import type { Keyring } from "@imap-proxy/crypto";
import {
  type FullMailboxSettings,
  type Mailbox,
  type MailboxTlsMode,
  findMailboxRow,
} from "@imap-proxy/db";
import { type CodedError, quoted } from "@imap-proxy/errors";
import { CliError } from "../errors.ts";
import { type Io, writeJson, writeLine } from "../io.ts";
import { keyringFor, withDatabase } from "../runtime.ts";
import type { CommonFlags } from "./common.ts";

type Protocol = "imap" | "smtp";
type ServerFields<P extends Protocol> =
  `${P}Host` | `${P}Port` | `${P}TlsMode` | `${P}Username` | `${P}Password`;

/** A mailbox's IMAP or SMTP server, as @imap-proxy/imap and @imap-proxy/smtp take it. */
export function serverSettingsOf<P extends Protocol>(
  protocol: P,
  settings: Pick<FullMailboxSettings, ServerFields<P>>,
): { host: string; port: number; tlsMode: MailboxTlsMode; username: string; password: string } {
  // The same five fields under the protocol's prefix (smtpHost, imapHost, ...).
  const of = settings as unknown as Record<ServerFields<Protocol>, never>;
  return {
    host: of[`${protocol}Host`],
    port: of[`${protocol}Port`],
    tlsMode: of[`${protocol}TlsMode`],
    username: of[`${protocol}Username`],
    password: of[`${protocol}Password`],
  };
}

/** What a check of one server gave: its report, or the typed failure it ended with. */
export type CheckOutcome<R, E extends CodedError> =
  { ok: true; result: R } | { ok: false; error: E };

/** Runs a check; its own typed failures become an outcome, anything else propagates. */
export async function outcomeOf<R, E extends CodedError>(
  check: Promise<R>,
  isFailure: (error: unknown) => error is E,
): Promise<CheckOutcome<R, E>> {
  try {
    return { ok: true, result: await check };
  } catch (error) {
    if (isFailure(error)) return { ok: false, error };
    throw error;
  }
}

/** The stored mailbox row with its ciphertexts, or not_found. */
export async function mailboxRowFor(io: Io, idOrEmail: string): Promise<Mailbox> {
  return withDatabase(io, async ({ db }) => {
    const found = await findMailboxRow(db, idOrEmail);
    if (found === undefined)
      throw new CliError("not_found", `No mailbox matches ${quoted(idOrEmail)}.`);
    return found;
  });
}

/**
 * `mailboxes:verify-smtp` and `mailboxes:verify-imap`: read the row, check the server with the
 * stored secret, print the outcome (text or JSON), exit non-zero on failure. `after` runs on
 * end and adds to the report.
 */
export async function runVerifyCommand<R extends object, E extends CodedError>(
  idOrEmail: string,
  flags: CommonFlags,
  io: Io,
  how: {
    protocol: "SMTP" | "IMAP";
    check: (row: Mailbox, keyring: Keyring) => Promise<CheckOutcome<R, E>>;
    describe: (outcome: CheckOutcome<R, E>) => string;
    after?: (row: Mailbox, ok: boolean) => Promise<{ json: Record<string, unknown>; text: string }>;
  },
): Promise<void> {
  const keyring = await keyringFor(io);
  const row = await mailboxRowFor(io, idOrEmail);
  const outcome = await how.check(row, keyring);
  const extra = how.after ? await how.after(row, outcome.ok) : { json: {}, text: "" };
  if (flags.json)
    writeJson(
      io,
      outcome.ok
        ? { mailbox: row.id, ok: true, ...outcome.result, ...extra.json }
        : {
            mailbox: row.id,
            ok: false,
            code: outcome.error.code,
            message: outcome.error.message,
            ...extra.json,
          },
    );
  else if (outcome.ok) writeLine(io.stdout, how.describe(outcome) + extra.text);
  if (!outcome.ok) {
    const { code, message } = outcome.error;
    throw new CliError(
      code as CliError["code"],
      flags.json ? `${how.protocol} verification failed (${code}).` : message,
    );
  }
}
