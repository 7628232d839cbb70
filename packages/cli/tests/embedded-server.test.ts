import type { ChildProcess } from "node:child_process";
import { exitOf, startEmbeddedHolder } from "@imap-proxy/testing/embedded-holder";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CliResult, type CliWorld, openCliWorld, runBuiltCli } from "./support.ts";

let world: CliWorld;
let server: ChildProcess | undefined;

beforeAll(async () => {
  world = await openCliWorld();
});
afterAll(async () => {
  server?.kill("SIGKILL");
  await world?.close();
});

const createArgs = (email: string) => [
  "mailboxes:create",
  "--no-input",
  "--email",
  email,
  "--imap-host",
  "imap.example.com",
  "--imap-username",
  "user",
  "--smtp-host",
  "smtp.example.com",
  "--smtp-username",
  "user",
  "--json",
];
const passwords = { IMAP_PASSWORD: "imap-pw", SMTP_PASSWORD: "smtp-pw" };

// Generous: a first run on a fresh directory creates the database (seconds on a busy machine).
const run = (args: string[], env: NodeJS.ProcessEnv) =>
  runBuiltCli(args, env, { timeoutMs: 180_000 });

/** What a person sees: output and exit code. */
const seen = ({ code, stdout, stderr }: CliResult) => ({ code, stdout, stderr });

describe.runIf(!process.env.DATABASE_URL)(
  "CLI commands while a server holds the data directory",
  () => {
    test(
      "work as when nothing runs, and the same again after the server stops",
      { timeout: 300_000 },
      async () => {
        const dataDir = world.env.IMAP_PROXY_DATA_DIR!;
        // Migrated and holding one mailbox before the server starts.
        const first = await run(createArgs("first@example.com"), {
          ...world.env,
          ...passwords,
        });
        expect(first.code, first.stderr).toBe(0);
        const env = { ...world.env, IMAP_PROXY_LOCK_WAIT_MS: "0" };
        const readOnly = [
          ["mailboxes:list", "--json"],
          ["mailboxes:list"],
          ["mailboxes:show", "first@example.com"],
          ["mailboxes:show", "nobody@example.com"],
        ];

        // A process holding the data directory and sharing it, as `serve` does.
        server = await startEmbeddedHolder("share", dataDir);
        const created = await run(createArgs("second@example.com"), {
          ...env,
          ...passwords,
        });
        expect(created.code, created.stderr).toBe(0);
        expect(JSON.parse(created.stdout)).toMatchObject({ email: "second@example.com" });
        const duplicate = await run(createArgs("second@example.com"), {
          ...env,
          ...passwords,
        });
        expect(duplicate.code).toBe(1);
        expect(duplicate.stderr).toMatch(/^error: .*second@example.com/);
        const token = await run(
          ["tokens:issue", "--mailbox", "second@example.com", "--permission", "messages:send"],
          env,
        );
        expect(token.code, token.stderr).toBe(0);
        expect(token.stdout.trim().split(".")).toHaveLength(3);
        const rotated = await run(["keys:rotate", "--json"], env);
        expect(rotated.code, rotated.stderr).toBe(0);
        const whileServed: CliResult[] = [];
        for (const args of readOnly) whileServed.push(await run(args, env));

        server.kill("SIGTERM");
        expect(await exitOf(server)).toBe(0);
        const afterwards: CliResult[] = [];
        for (const args of readOnly) afterwards.push(await run(args, world.env));
        expect(whileServed.map(seen)).toEqual(afterwards.map(seen));
        expect(whileServed[3]!.code).toBe(1);
        expect(JSON.parse(whileServed[0]!.stdout)).toHaveLength(2);
      },
    );
  },
);
