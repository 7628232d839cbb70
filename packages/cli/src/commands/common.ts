import type { Command } from "commander";
import type { Io } from "../io.ts";

export interface CommonFlags {
  json?: boolean;
  input?: boolean;
  debug?: boolean;
}

export function addCommonFlags(command: Command): Command {
  return command
    .option("--json", "print exactly one JSON document on stdout")
    .option("--no-input", "never prompt; take everything from flags and env")
    .option("--debug", "print stack traces for unexpected errors");
}

export function canPrompt(io: Io, flags: CommonFlags): boolean {
  return io.interactive && flags.input !== false && flags.json !== true;
}
