import { Command } from "@commander-js/extra-typings";
import type { Io } from "../io.ts";

export const keysGenerate = (io: Io) =>
  new Command("keys:generate")
    .description("print a new Fernet key (and nothing else) for FERNET_KEY")
    .action(async () => (await import("../actions/keys.ts")).runKeysGenerate(io));
