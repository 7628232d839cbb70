import type { FullMailboxSettings } from "@imap-proxy/db";
import { CliError } from "../errors.ts";
import type { MailboxFlags } from "../commands/mailbox-options.ts";
import type { Io } from "../io.ts";
import {
  FIELD_KEYS,
  type FieldKey,
  type Known,
  MAILBOX_FIELDS,
  SECRET_KEYS,
  envName,
  inputName,
  kebab,
  withFallbacks,
} from "../mailbox-fields.ts";
import { readSecret } from "../secrets.ts";
import { validateAll } from "../validation.ts";

/** Passwords on the command line leak into shell history and `ps`; refuse them outright. */
export function refuseArgvSecrets(flags: MailboxFlags): void {
  for (const key of SECRET_KEYS) {
    if (flags[key] !== undefined) {
      throw new CliError(
        "secret_in_argv",
        `Passwords are never taken from the command line; use ${envName(key)} or --${kebab(key)}-file.`,
      );
    }
  }
}

/** Everything the flags and env give, validated; absent fields stay undefined. */
export async function mailboxFieldsFromFlags(flags: MailboxFlags, io: Io): Promise<Known> {
  refuseArgvSecrets(flags);
  const files = SECRET_KEYS.filter((key) => flags[`${key}File`] === "-");
  if (files.length > 1) {
    throw new CliError(
      "invalid_input",
      `Only one of ${files.map((key) => `--${kebab(key)}-file`).join(" and ")} can read stdin.`,
    );
  }
  const given: Partial<Record<FieldKey, string>> = {};
  for (const key of FIELD_KEYS) {
    given[key] = MAILBOX_FIELDS[key].secret
      ? await readSecret(
          {
            variable: envName(key as (typeof SECRET_KEYS)[number]),
            file: flags[`${key as (typeof SECRET_KEYS)[number]}File`],
            flag: `--${kebab(key)}-file`,
          },
          io.env,
          io.stdin,
        )
      : flags[key as Exclude<FieldKey, (typeof SECRET_KEYS)[number]>];
  }
  return validateAll<Known>(
    Object.fromEntries(
      FIELD_KEYS.map((key) => [
        key,
        { label: inputName(key), schema: MAILBOX_FIELDS[key].schema, value: given[key] },
      ]),
    ),
  );
}

/** For scripts: every field, from flags or fallbacks; one error naming everything missing. */
export function completeForCreate(known: Known): FullMailboxSettings {
  const values = withFallbacks(known);
  const missing = FIELD_KEYS.filter((key) => values[key] === undefined).map((key) =>
    MAILBOX_FIELDS[key].secret
      ? `${inputName(key)} (${envName(key as (typeof SECRET_KEYS)[number])} or --${kebab(key)}-file)`
      : inputName(key),
  );
  if (missing.length > 0) {
    throw new CliError("missing_input", `Missing required input: ${missing.join(", ")}.`);
  }
  return values as FullMailboxSettings;
}
