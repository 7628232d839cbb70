import { type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import {
  FIELD_KEYS,
  MAILBOX_FIELDS,
  type SecretKey,
  envName,
  kebab,
  secretNoun,
} from "../mailbox-fields.ts";

/** One flag per field of the mailbox field table (a secret: its file flag). */
export function addFieldOptions(command: CommandUnknownOpts): void {
  for (const key of FIELD_KEYS) {
    const { arg, help, secret } = MAILBOX_FIELDS[key];
    if (!secret) {
      command.option(`--${kebab(key)} <${arg}>`, help);
      continue;
    }
    command.option(
      `--${kebab(key)}-file <path>`,
      `read the ${secretNoun(key)} from a file ('-' = stdin); or set ${envName(key as SecretKey)}`,
    );
    // Accepted only to refuse it with a clear message: argv leaks into `ps` and history.
    command.addOption(new Option(`--${kebab(key)} <value>`).hideHelp());
  }
}
