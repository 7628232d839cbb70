import * as p from "@clack/prompts";
import { CancelledError } from "../errors.ts";
import type { Io } from "../io.ts";

/** The real clack prompts bound to the command's streams; Ctrl-C anywhere → CancelledError. */
export function promptsFor(io: Io) {
  const streams = { input: io.stdin, output: io.stdout };
  const answered = <T>(value: T): Exclude<T, symbol> => {
    if (p.isCancel(value)) throw new CancelledError();
    return value as Exclude<T, symbol>;
  };
  return {
    intro: (title: string) => p.intro(title, { output: io.stdout }),
    outro: (message: string) => p.outro(message, { output: io.stdout }),
    note: (message: string, title: string) => p.note(message, title, { output: io.stdout }),
    text: async (opts: Omit<p.TextOptions, "input" | "output">) =>
      answered(await p.text({ ...opts, ...streams })),
    password: async (opts: Omit<p.PasswordOptions, "input" | "output">) =>
      answered(await p.password({ ...opts, ...streams })),
    confirm: async (opts: Omit<p.ConfirmOptions, "input" | "output">) =>
      answered(await p.confirm({ ...opts, ...streams })),
    select: async <T>(opts: Omit<p.SelectOptions<T>, "input" | "output">) =>
      answered(await p.select<T>({ ...opts, ...streams })),
    multiselect: async <T>(opts: Omit<p.MultiSelectOptions<T>, "input" | "output">) =>
      answered(await p.multiselect<T>({ ...opts, ...streams })),
  };
}
export type Prompts = ReturnType<typeof promptsFor>;
