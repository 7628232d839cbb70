import {
  type Command,
  type CommandUnknownOpts,
  Option,
  type OptionValues,
} from "@commander-js/extra-typings";

/*
 * Options shared by several commands, each declared once. The helpers keep commander's inferred
 * option types (extra-typings), so actions receive typed flags without a cast.
 */

/** --json, --no-input and --debug: every command that prints takes them. */
export function withCommonOptions<
  A extends unknown[],
  O extends OptionValues,
  G extends OptionValues,
>(command: Command<A, O, G>) {
  return command
    .option("--json", "print exactly one JSON document on stdout")
    .option("--no-input", "never prompt; take everything from flags and env")
    .option("--debug", "print stack traces and the cause chain (never query parameters)");
}

/** The bound for each SMTP wait (connect, greeting, TLS, AUTH); parsed by `parseDuration`. */
export const smtpTimeoutOption = () =>
  new Option("--smtp-timeout <duration>", "bound for each SMTP wait, e.g. 15s (default) or 500ms");

const deferred = new WeakMap<CommandUnknownOpts, () => Promise<void>>();

/**
 * Options whose declaration needs heavy modules (the mailbox field table loads zod and the
 * schema) are added just before their command parses, so other commands never load them.
 */
export function deferOptions(command: CommandUnknownOpts, add: () => Promise<void>): void {
  deferred.set(command, add);
}

/** The program's preSubcommand hook: declares the chosen command's deferred options. */
export async function addDeferredOptions(command: CommandUnknownOpts): Promise<void> {
  const add = deferred.get(command);
  deferred.delete(command);
  await add?.();
}
