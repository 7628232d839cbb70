import type { FullMailboxSettings } from "@imap-proxy/db";
import { type FieldKey, MAILBOX_FIELDS } from "../mailbox-fields.ts";
import { problemWith } from "../validation.ts";
import type { Prompts } from "./clack.ts";

/**
 * Asks for one field as its table entry says: a select of its choices, a masked password, or
 * text checked by its validator. `initial` prefills the answer (a current value, editable);
 * `suggested` is offered and taken with Enter.
 */
export async function askField<K extends FieldKey>(
  prompts: Prompts,
  key: K,
  { initial, suggested }: { initial?: string; suggested?: string } = {},
): Promise<FullMailboxSettings[K]> {
  const { label, schema, choices, secret, placeholder } = MAILBOX_FIELDS[key];
  const parse = (text: string) => schema.parse(text);
  if (choices) {
    const answer = await prompts.select<string>({
      message: label,
      options: Object.entries(choices).map(([value, hint]) => ({ value, label: value, hint })),
      initialValue: initial ?? suggested,
    });
    return parse(answer);
  }
  if (secret) {
    return parse(
      await prompts.password({ message: label, validate: (v) => problemWith(schema, v) }),
    );
  }
  const answer = await prompts.text({
    message: label,
    ...(initial === undefined ? {} : { initialValue: initial }),
    ...(suggested === undefined
      ? placeholder === undefined
        ? {}
        : { placeholder }
      : { placeholder: suggested, defaultValue: suggested }),
    // clack validates before it substitutes the default, so empty is fine with a suggestion.
    validate: (v) => (!v && suggested !== undefined ? undefined : problemWith(schema, v)),
  });
  return parse(answer || (suggested ?? ""));
}
