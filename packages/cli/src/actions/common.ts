import { isCodedError } from "@imap-proxy/errors";
import type { Io } from "../io.ts";

export interface CommonFlags {
  json?: boolean;
  input?: boolean;
  debug?: boolean;
}

export function canPrompt(io: Io, flags: CommonFlags): boolean {
  return io.interactive && flags.input !== false && flags.json !== true;
}

/** Typed errors' messages carry no secrets (scrubbed); anything else is logged by name only. */
export function describeError(error: unknown): { code?: string; message: string } {
  if (isCodedError(error)) return { code: error.code, message: error.message };
  return { message: error instanceof Error ? error.name : "unknown error" };
}
