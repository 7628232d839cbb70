import { spawn } from "node:child_process";
import { once } from "node:events";
import { rowsOf, sql } from "@imap-proxy/db";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type CliWorld,
  cliBundle,
  createMailboxWithSendToken,
  openCliWorld,
  runBuiltCli,
} from "./support.ts";

let world: CliWorld;
let token: string;

beforeAll(async () => {
  world = await openCliWorld();
  token = await createMailboxWithSendToken(world.env, {});
}, 180_000);
afterAll(async () => {
  await world?.close();
});

describe("imap-proxy serve", () => {
  test("starts as a user would, logs its URL, queues a message over HTTP, stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [cliBundle, "serve", "--port", "0"], {
      env: world.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, "exit");
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout);
          if (match) resolve(match[1]!);
        });
        child.on("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
      });
      expect(stdout.split("\n").filter((l) => l.includes("listening"))).toHaveLength(1);

      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);

      const response = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ to: ["ann@example.net"], subject: "Over a socket", text: "Hi" }),
      });
      expect(response.status).toBe(202);
      const body = (await response.json()) as { id: string; messageId: string };
      expect(response.headers.get("location")).toBe(`/v1/messages/${body.id}`);
      expect(body.messageId).toBe(`<${body.id}@example.com>`);

      const status = await fetch(`${url}${response.headers.get("location")}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(status.status).toBe(200);
      expect(((await status.json()) as { subject: string }).subject).toBe("Over a socket");

      const unauthorized = await fetch(`${url}/v1/messages`, { method: "POST" });
      expect(unauthorized.status).toBe(401);
      expect(unauthorized.headers.get("www-authenticate")).toContain('error="invalid_token"');

      child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
      expect(stdout).toContain("shutting down");
      expect(stdout).not.toContain(token);
      expect(stdout).not.toContain("ann@example.net");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }

    // The embedded database is free again and holds the message.
    const stored = await world.query(async ({ db }) =>
      rowsOf<{ subject: string; n: number }>(
        await db.execute(sql`
          SELECT m.subject, (SELECT count(*)::int FROM outbound_messages o WHERE o.message_id = m.id) AS n
          FROM messages m`),
      ),
    );
    expect(stored).toEqual([{ subject: "Over a socket", n: 1 }]);
  }, 180_000);

  test("bad flags and settings are one-line usage errors (exit 2)", async () => {
    const port = await runBuiltCli(["serve", "--port", "http"], world.env);
    expect(port.code).toBe(2);
    expect(port.stderr.trim().split("\n")).toHaveLength(1);
    const limit = await runBuiltCli(["serve", "--port", "0"], {
      ...world.env,
      MAX_MESSAGE_BYTES: "25MB",
    });
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain("MAX_MESSAGE_BYTES");
  }, 120_000);
});
