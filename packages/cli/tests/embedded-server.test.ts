import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CliResult, type CliWorld, openCliWorld, runBuiltCli } from "./support.ts";

// A process holding the data directory and sharing it, as `serve` does.
const holderScript = fileURLToPath(
  new URL("../../db/tests/fixtures/embedded-holder.ts", import.meta.url),
);
const tsxLoader = pathToFileURL(
  path.join(
    path.dirname(createRequire(import.meta.url).resolve("tsx/package.json")),
    "dist/loader.mjs",
  ),
).href;

let world: CliWorld;
let server: ChildProcess | undefined;

async function startServer(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", tsxLoader, holderScript, "share", dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes('"ready":true')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return child;
}

async function stopServer(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  return exited;
}

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

/** What a person sees: output and exit code. */
const seen = ({ code, stdout, stderr }: CliResult) => ({ code, stdout, stderr });

describe.runIf(!process.env.DATABASE_URL)(
  "CLI commands while a server holds the data directory",
  () => {
    test("work as when nothing runs, and the same again after the server stops", async () => {
      const dataDir = world.env.IMAP_PROXY_DATA_DIR!;
      // Migrated and holding one mailbox before the server starts.
      const first = await runBuiltCli(createArgs("first@example.com"), {
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

      server = await startServer(dataDir);
      const created = await runBuiltCli(createArgs("second@example.com"), { ...env, ...passwords });
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({ email: "second@example.com" });
      const duplicate = await runBuiltCli(createArgs("second@example.com"), {
        ...env,
        ...passwords,
      });
      expect(duplicate.code).toBe(1);
      expect(duplicate.stderr).toMatch(/^error: .*second@example.com/);
      const token = await runBuiltCli(
        ["tokens:issue", "--mailbox", "second@example.com", "--permission", "mail:send"],
        env,
      );
      expect(token.code, token.stderr).toBe(0);
      expect(token.stdout.trim().split(".")).toHaveLength(3);
      const rotated = await runBuiltCli(["keys:rotate", "--json"], env);
      expect(rotated.code, rotated.stderr).toBe(0);
      const whileServed: CliResult[] = [];
      for (const args of readOnly) whileServed.push(await runBuiltCli(args, env));

      expect(await stopServer(server)).toBe(0);
      const afterwards: CliResult[] = [];
      for (const args of readOnly) afterwards.push(await runBuiltCli(args, world.env));
      expect(whileServed.map(seen)).toEqual(afterwards.map(seen));
      expect(whileServed[3]!.code).toBe(1);
      expect(JSON.parse(whileServed[0]!.stdout)).toHaveLength(2);
    });
  },
);
