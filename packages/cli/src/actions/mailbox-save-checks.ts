import type { MailboxSettings } from "@imap-proxy/db";
import { CliError } from "../errors.ts";
import { type Io, writeLine } from "../io.ts";
import type { MailboxFlags } from "../commands/mailbox-options.ts";
import { promptsFor } from "../prompts/clack.ts";
import { portMismatch } from "../validation.ts";
import { type CommonFlags, canPrompt } from "./common.ts";

/**
 * Verifies SMTP and IMAP before saving when asked (--verify) or, interactively, when the operator agrees.
 * A failed check blocks saving unless the operator explicitly saves anyway. True = go on saving.
 */
export async function verifyBeforeSaving(
  settings: MailboxSettings,
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
  const { checkSmtp, describeVerification, smtpSettingsOf, timeoutFromFlag } =
    await import("./smtp.ts");
  const { checkImap, describeImapVerification, imapSettingsOfInput } = await import("./imap.ts");
  const smtp = await checkSmtp(smtpSettingsOf(settings), io, timeoutFromFlag(flags.smtpTimeout));
  const imap = await checkImap(
    imapSettingsOfInput(settings),
    io,
    timeoutFromFlag(flags.smtpTimeout),
  );
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

export function refuseMismatch(
  settings: Pick<MailboxSettings, "smtpTlsMode" | "smtpPort">,
  allowed: boolean,
): void {
  const mismatch = portMismatch(settings.smtpTlsMode, settings.smtpPort);
  if (mismatch !== undefined && !allowed) {
    throw new CliError(
      "port_mode_mismatch",
      `${mismatch}; pass --allow-port-mismatch if that is really right.`,
    );
  }
}
