import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { FernetKey } from "@imap-proxy/crypto";
import { type DatabaseHandle, openDatabase, rowsOf, sql } from "@imap-proxy/db";
import { openTestDatabase, type TestDatabase } from "@imap-proxy/testing/database";
import type { Io } from "../src/io.ts";

export const cliBundle = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../dist/imap-proxy.js",
);

/**
 * Where CLI runs in one test file store data: a fresh embedded data directory, or (when
 * DATABASE_URL is set) a fresh, migrated Postgres database. `env` is what the CLI gets.
 */
export interface CliWorld {
  env: NodeJS.ProcessEnv;
  fernetKey: string;
  /** Runs `work` on the same database the CLI uses (after the CLI has exited). */
  query<T>(work: (handle: DatabaseHandle) => Promise<T>): Promise<T>;
  mailboxCount(): Promise<number>;
  close(): Promise<void>;
}

export async function openCliWorld(): Promise<CliWorld> {
  const fernetKey = FernetKey.generate();
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    FERNET_KEY: fernetKey,
    JWT_SECRET: "test-jwt-secret-test-jwt-secret-0123456789",
  };
  let postgres: TestDatabase | undefined;
  let dataDir: string | undefined;
  if (process.env.DATABASE_URL) {
    postgres = await openTestDatabase();
    base.DATABASE_URL = postgres.url;
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), "imap-proxy-cli-"));
    base.IMAP_PROXY_DATA_DIR = dataDir;
  }
  const query = async <T>(work: (handle: DatabaseHandle) => Promise<T>): Promise<T> => {
    if (postgres) return work(postgres);
    const handle = await openDatabase({ kind: "pglite", dataDir: dataDir! });
    try {
      return await work(handle);
    } finally {
      await handle.close();
    }
  };
  return {
    env: base,
    fernetKey,
    query,
    async mailboxCount() {
      return query(async ({ db }) => {
        const exists = rowsOf<{ e: boolean }>(
          await db.execute(sql`SELECT to_regclass('public.mailboxes') IS NOT NULL AS e`),
        )[0]?.e;
        if (!exists) return 0;
        return rowsOf<{ n: number }>(
          await db.execute(sql`SELECT count(*)::int AS n FROM mailboxes`),
        )[0]!.n;
      });
    },
    async close() {
      await postgres?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Spawns the built CLI (no TTY) and collects everything it prints. */
export function runBuiltCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBundle, ...args], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 90_000);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    child.stdin.end(options.stdin ?? "");
  });
}

/** A fake terminal for driving the real clack prompts in-process. */
export class Terminal {
  readonly input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  readonly output = Object.assign(new PassThrough(), { isTTY: true, columns: 120, rows: 40 });
  readonly stderr = new PassThrough();
  #screen = "";
  #errors = "";
  #mark = 0;

  constructor() {
    this.output.on("data", (chunk: Buffer) => (this.#screen += chunk.toString()));
    this.stderr.on("data", (chunk: Buffer) => (this.#errors += chunk.toString()));
  }

  io(env: NodeJS.ProcessEnv): Io {
    return { stdin: this.input, stdout: this.output, stderr: this.stderr, env, interactive: true };
  }

  /** Everything printed so far, without ANSI codes. */
  get text(): string {
    return stripVTControlCharacters(this.#screen);
  }
  get errors(): string {
    return this.#errors;
  }

  /** Waits until `pattern` appears in output printed since the last answer; returns that output. */
  async waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<string> {
    const start = Date.now();
    for (;;) {
      const recent = stripVTControlCharacters(this.#screen.slice(this.#mark));
      if (typeof pattern === "string" ? recent.includes(pattern) : pattern.test(recent))
        return recent;
      if (Date.now() - start > timeoutMs) {
        throw new Error(`timed out waiting for ${String(pattern)}; screen so far:\n${this.text}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Waits for the prompt, then types `keys`. */
  async answer(prompt: RegExp | string, keys: string): Promise<string> {
    const shown = await this.waitFor(prompt);
    this.#mark = this.#screen.length;
    this.input.write(keys);
    return shown;
  }
}

export const ENTER = "\r";
export const DOWN = "\u001b[B";
export const UP = "\u001b[A";
export const CTRL_C = "\u0003";

export interface ServeProcess {
  url: string;
  /** Everything serve printed on stdout so far (pino lines). */
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  kill(): void;
}

/** Spawns the built CLI's `serve` on a free port and waits for its "listening" line. */
export async function startServe(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cliBundle, "serve", "--port", "0", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited early: ${stderr}`)));
  });
  return {
    url,
    output: () => stdout,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
    kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/**
 * Registers a mailbox as a script would (`mailboxes:create --no-input`, the built CLI; flags by
 * name without `--`, over a placeholder mailbox) and issues it a `messages:send` token.
 */
export async function createMailboxWithSendToken(
  env: NodeJS.ProcessEnv,
  flags: Record<string, string>,
  passwords: { imap?: string; smtp?: string } = {},
): Promise<string> {
  const settings: Record<string, string> = {
    email: "ops@example.com",
    "imap-host": "imap.example.com",
    "imap-username": "ops",
    "smtp-host": "smtp.example.com",
    "smtp-username": "ops",
    ...flags,
  };
  const created = await runBuiltCli(
    [
      "mailboxes:create",
      "--no-input",
      ...Object.entries(settings).flatMap(([k, v]) => [`--${k}`, v]),
    ],
    {
      ...env,
      IMAP_PASSWORD: passwords.imap ?? "imap-pass",
      SMTP_PASSWORD: passwords.smtp ?? "smtp-pass",
    },
  );
  if (created.code !== 0) throw new Error(`mailboxes:create failed: ${created.stderr}`);
  const issued = await runBuiltCli(
    ["tokens:issue", "--mailbox", settings.email!, "--permission", "messages:send"],
    env,
  );
  if (issued.code !== 0) throw new Error(`tokens:issue failed: ${issued.stderr}`);
  return issued.stdout.trim();
}
