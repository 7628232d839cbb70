import type { FullMailboxSettings } from "@imap-proxy/db";
import { portMismatch } from "@imap-proxy/db/schema";
import { CancelledError } from "../errors.ts";
import {
  FIELD_KEYS,
  type FieldKey,
  type Known,
  MAILBOX_FIELDS,
  PORT_PAIRS,
  type PlainKey,
  type PortPair,
  type SecretKey,
  summaryLines,
  textOf,
} from "../mailbox-fields.ts";
import type { Prompts } from "./clack.ts";
import { askField } from "./fields.ts";

type Mode = FullMailboxSettings["smtpTlsMode"];

/**
 * A TLS mode and its port together: the port's default follows the mode, and a pair that cannot
 * work as typed needs an explicit yes (or the operator goes back and changes what was asked).
 * `given` values are not asked; `initialMode` preselects the mode when it is asked.
 */
export async function askModeAndPort(
  prompts: Prompts,
  pair: PortPair,
  given: { mode?: Mode; port?: number },
  options: { allowPortMismatch: boolean; initialMode: Mode; initialPort?: number },
): Promise<{ mode: Mode; port: number }> {
  let initialMode = options.initialMode;
  for (;;) {
    const mode = given.mode ?? (await askField(prompts, pair.mode, { initial: initialMode }));
    const port =
      given.port ??
      (await askField(prompts, pair.port, {
        suggested: String(MAILBOX_FIELDS[pair.port].fallback!({ [pair.mode]: mode })),
      }));
    const mismatch = portMismatch(pair.protocol, mode, port);
    if (mismatch === undefined || options.allowPortMismatch) return { mode, port };
    const keep = await prompts.confirm({
      message: `${mismatch}. Keep this combination?`,
      initialValue: false,
    });
    if (keep) return { mode, port };
    if (given.mode !== undefined && given.port !== undefined) throw new CancelledError();
    initialMode = mode;
  }
}

const pairWithPort = (key: FieldKey) => PORT_PAIRS.find((pair) => pair.port === key);
const pairWithMode = (key: FieldKey) => PORT_PAIRS.find((pair) => pair.mode === key);

/** Fills every field the flags did not give: asks the create fields, defaults the rest; confirms. */
export async function promptMailboxSettings(
  prompts: Prompts,
  known: Known,
  options: {
    allowPortMismatch: boolean;
    /** Offered before the summary; returns false when the operator chose not to save. */
    verify: (settings: FullMailboxSettings) => Promise<boolean>;
  },
): Promise<FullMailboxSettings> {
  prompts.intro("Register a mailbox");
  const values: Known = { ...known };
  const set = <K extends FieldKey>(key: K, value: FullMailboxSettings[K]) =>
    Object.assign(values, { [key]: value });
  for (const key of FIELD_KEYS) {
    const field = MAILBOX_FIELDS[key];
    if (values[key] !== undefined) continue;
    const fallback = field.fallback as ((k: Known) => unknown) | undefined;
    // A mode asked at create is asked with its port (below); a port not asked is its mode's.
    if (pairWithMode(key) && field.atCreate) continue;
    if (!field.atCreate) {
      set(key, fallback!(values) as never);
      continue;
    }
    const pair = pairWithPort(key);
    if (pair) {
      const { mode, port } = await askModeAndPort(
        prompts,
        pair,
        {
          mode:
            known[pair.mode] ??
            (MAILBOX_FIELDS[pair.mode].atCreate ? undefined : values[pair.mode]),
          port: known[pair.port],
        },
        {
          allowPortMismatch: options.allowPortMismatch,
          initialMode: MAILBOX_FIELDS[pair.mode].fallback!({}),
        },
      );
      set(pair.mode, mode);
      set(pair.port, port);
      continue;
    }
    if (key === "smtpUsername" && values.smtpPassword === undefined) {
      const reuse = await prompts.confirm({
        message: "Use the IMAP username and password for SMTP too?",
        initialValue: true,
      });
      if (reuse) {
        set("smtpUsername", values.imapUsername!);
        set("smtpPassword", values.imapPassword!);
        continue;
      }
    }
    set(key, await askField(prompts, key, { suggested: field.suggest?.(values) }));
  }
  const settings = values as FullMailboxSettings;
  if (!(await options.verify(settings))) throw new CancelledError();
  prompts.note(summaryLines(settings), "Summary");
  if (!(await prompts.confirm({ message: "Create this mailbox?", initialValue: true })))
    throw new CancelledError();
  return settings;
}

/**
 * The update flow's questions: which fields change, then each of those with its current value
 * prefilled (passwords blank). A mode or port that changes is asked as a pair, with the same
 * mismatch question as create.
 */
export async function promptUpdates(
  prompts: Prompts,
  current: Omit<FullMailboxSettings, SecretKey>,
  allowPortMismatch: boolean,
): Promise<Known> {
  prompts.intro(`Update ${current.email}`);
  const chosen = await prompts.multiselect<FieldKey>({
    message: "Which settings change?",
    options: FIELD_KEYS.map((key) => ({ value: key, label: MAILBOX_FIELDS[key].label })),
    required: true,
  });
  const changes: Known = {};
  for (const key of FIELD_KEYS.filter((k) => chosen.includes(k))) {
    const pair = pairWithMode(key) ?? pairWithPort(key);
    if (pair) {
      if (changes[pair.mode] !== undefined) continue; // asked with its partner
      const { mode, port } = await askModeAndPort(
        prompts,
        pair,
        {
          mode: chosen.includes(pair.mode) ? undefined : current[pair.mode],
          port: chosen.includes(pair.port) ? undefined : current[pair.port],
        },
        { allowPortMismatch, initialMode: current[pair.mode] },
      );
      Object.assign(changes, { [pair.mode]: mode, [pair.port]: port });
      continue;
    }
    const initial = MAILBOX_FIELDS[key].secret
      ? undefined
      : textOf(key, current[key as PlainKey] as never);
    Object.assign(changes, { [key]: await askField(prompts, key, { initial }) });
  }
  return changes;
}
