import type { Io } from "../io.ts";

export interface CommonFlags {
  json?: boolean;
  input?: boolean;
  debug?: boolean;
}

export function canPrompt(io: Io, flags: CommonFlags): boolean {
  return io.interactive && flags.input !== false && flags.json !== true;
}
