import type { Command, OptionValues } from "@commander-js/extra-typings";
import type { PlainKey, SecretKey } from "../mailbox-fields.ts";
import { deferOptions, smtpTimeoutOption } from "./options.ts";

/** The field flags as commander hands them over (strings until validated), keyed as the table. */
export type FieldFlags = { [K in PlainKey]?: string } & {
  [K in SecretKey as `${K}File`]?: string;
} & { [K in SecretKey]?: string };

/** The flags of mailboxes:create and mailboxes:update: every field of the table, plus the save-time checks. */
export function withMailboxOptions<
  A extends unknown[],
  O extends OptionValues,
  G extends OptionValues,
>(command: Command<A, O, G>) {
  deferOptions(command, async () => {
    const { addFieldOptions } = await import("./field-options.ts");
    addFieldOptions(command);
  });
  // The deferred options are typed from the table (commander names them as its keys).
  return (command as unknown as Command<A, O & FieldFlags, G>)
    .option(
      "--allow-port-mismatch",
      "accept a port that contradicts its TLS mode (e.g. 465 with starttls_required)",
    )
    .option("--verify", "check the SMTP and IMAP settings before saving (log in, send nothing)")
    .option("--save-anyway", "with --verify: save even if the check fails")
    .addOption(smtpTimeoutOption());
}

/** The mailbox flags as commander hands them over (strings until validated). */
export type MailboxFlags = ReturnType<
  ReturnType<typeof withMailboxOptions<[], Record<never, never>, Record<never, never>>>["opts"]
>;
