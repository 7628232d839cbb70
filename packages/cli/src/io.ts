import type { Readable, Writable } from "node:stream";

/** Everything a command touches outside itself, injectable so tests drive the real code. */
export interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Prompts are allowed: both streams are terminals, CI is unset, and --no-input was not given. */
  interactive: boolean;
}

export function processIo(): Io {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY && !process.env.CI),
  };
}

export function writeJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function writeLine(stream: Writable, line: string): void {
  stream.write(`${line}\n`);
}
