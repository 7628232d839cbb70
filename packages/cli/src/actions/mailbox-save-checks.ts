import type { FullMailboxSettings } from "@imap-proxy/db";
import { portMismatch } from "@imap-proxy/db/schema";
import { CliError } from "../errors.ts";
import { type Io, writeLine } from "../io.ts";
import type { MailboxFlags } from "../commands/mailbox-options.ts";
import { promptsFor } from "../prompts/clack.ts";
import { type Known, PORT_PAIRS, type PortPair } from "../mailbox-fields.ts";
import { durationFlag } from "../validation.ts";
import { type CommonFlags, canPrompt } from "./common.ts";

/**
 * Verifies SMTP and IMAP before saving when asked (--verify) or, interactively, when the operator agrees.
 * A failed check blocks saving unless the operator explicitly saves anyway. True = go on saving.
 */
export async function verifyBeforeSaving(
  settings: FullMailboxSettings,
  flags: MailboxFlags & CommonFlags,
  io: Io,
): Promise<boolean> {
  const interactive = canPrompt(io, flags);
  const prompts = interactive ? promptsFor(io) : undefined;
  let wanted = flags.verify === true;
  if (!wanted && prompts) {
    wanted = await prompts.confirm({
      message: "Verify the SMTP and IMAP settings now (connect, upgrade, log in, change nothing)?",
      initialValue: true,
    });
  }
  if (!wanted) return true;
  const { DEFAULT_SMTP_TIMEOUT_MS, checkSmtp, describeVerification } = await import("./smtp.ts");
  const { checkImap, describeImapVerification } = await import("./imap.ts");
  const { serverSettingsOf } = await import("./verify.ts");
  const timeoutMs = durationFlag("--smtp-timeout", flags.smtpTimeout, DEFAULT_SMTP_TIMEOUT_MS);
  const smtp = await checkSmtp(serverSettingsOf("smtp", settings), io, timeoutMs);
  const imap = await checkImap(serverSettingsOf("imap", settings), io, timeoutMs);
  const ok = smtp.ok && imap.ok;
  // In scripts a blocking failure is reported once, as the error line below.
  if (interactive || ok || flags.saveAnyway) {
    const out = interactive ? io.stdout : io.stderr;
    writeLine(out, describeVerification(smtp));
    writeLine(out, describeImapVerification(imap));
  }
  if (ok || flags.saveAnyway) return true;
  if (prompts)
    return prompts.confirm({
      message: `${smtp.ok ? "IMAP" : imap.ok ? "SMTP" : "SMTP and IMAP"} verification failed. Save anyway?`,
      initialValue: false,
    });
  const failure = !smtp.ok ? smtp.error : !imap.ok ? imap.error : undefined;
  throw new CliError(
    failure!.code,
    `${failure!.message} Nothing was saved; fix the settings, or pass --save-anyway to keep them.`,
  );
}

/**
 * Every TLS mode/port pair that `changed` touches must agree, unless --allow-port-mismatch: in a
 * terminal the operator is asked (as at the create prompt), in scripts it is an error.
 */
export async function checkPortPairs(
  settings: Pick<FullMailboxSettings, PortPair["mode"] | PortPair["port"]>,
  changed: Known,
  flags: MailboxFlags & CommonFlags,
  io: Io,
): Promise<void> {
  if (flags.allowPortMismatch === true) return;
  for (const pair of PORT_PAIRS) {
    if (changed[pair.mode] === undefined && changed[pair.port] === undefined) continue;
    const mode = settings[pair.mode];
    const port = settings[pair.port];
    const mismatch = portMismatch(pair.protocol, mode, port);
    if (mismatch === undefined) continue;
    if (!canPrompt(io, flags)) {
      throw new CliError(
        "port_mode_mismatch",
        `${mismatch}; pass --allow-port-mismatch if that is really right.`,
      );
    }
    const { askModeAndPort } = await import("../prompts/mailbox.ts");
    await askModeAndPort(
      promptsFor(io),
      pair,
      { mode, port },
      {
        allowPortMismatch: false,
        initialMode: mode,
      },
    );
  }
}
