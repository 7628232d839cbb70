import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { rowsOf, sql } from "@imap-proxy/db";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import { type RunningExim, eximBinary, startExim } from "@imap-proxy/testing/exim";
import { type TestPki, makeTestPki } from "@imap-proxy/testing/pki";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type CliWorld, cliBundle, createMailboxWithSendToken, openCliWorld } from "./support.ts";

// The "done when", as a user would do it: `imap-proxy serve` (the built CLI, its own
// process, sending in-process on the embedded database; `--worker` on Postgres) takes messages
// over HTTP and delivers them through a private Exim into a maildir.
const DOMAIN = "test.example";
const COUNT = 3;

let world: CliWorld;
let pki: TestPki;
let exim: RunningExim;
let env: NodeJS.ProcessEnv;
let token: string;
let serve: ChildProcess | undefined;

beforeAll(async () => {
  world = await openCliWorld();
  pki = makeTestPki();
  const caFile = path.join(pki.dir, "trusted-ca.pem");
  writeFileSync(caFile, pki.caPem);
  exim = await startExim(pki, { deliverDomain: DOMAIN });
  env = { ...world.env, SMTP_CA_FILE: caFile };
  token = await createMailboxWithSendToken(
    env,
    {
      "smtp-host": "localhost",
      "smtp-port": String(exim.relays.starttls.port),
      "smtp-username": USERNAME,
      "smtp-tls-mode": "starttls_required",
    },
    { smtp: PASSWORD },
  );
}, 180_000);
afterAll(async () => {
  if (serve?.exitCode === null) serve.kill("SIGKILL");
  await exim?.close();
  await world?.close();
});

async function until<T>(probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test.skipIf(eximBinary() === undefined)(
  "serve delivers messages submitted over HTTP to Exim: each once, the stored bytes after Exim's trace headers, no Bcc header",
  async () => {
    const postgres = env.DATABASE_URL !== undefined;
    const child = spawn(
      process.execPath,
      [cliBundle, "serve", "--port", "0", ...(postgres ? ["--worker"] : [])],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    serve = child;
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, "exit");
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on("exit", () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const auth = { authorization: `Bearer ${token}` };

    const submitted: { id: string; recipients: { id: string; email: string }[] }[] = [];
    for (let n = 0; n < COUNT; n++) {
      const response = await fetch(`${url}/v1/messages`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          to: [`alice@${DOMAIN}`],
          bcc: [`bob@${DOMAIN}`],
          subject: `Delivery ${n}`,
          text: `Message ${n}.\n.\nA line with only a dot above.`,
        }),
      });
      expect(response.status).toBe(202);
      submitted.push((await response.json()) as (typeof submitted)[number]);
    }

    // Every recipient ends `sent` (followed over HTTP, as a user would).
    for (const message of submitted) {
      const status = await until(async () => {
        const response = await fetch(`${url}/v1/messages/${message.id}`, { headers: auth });
        const body = (await response.json()) as { recipients: { status: string }[] };
        return body.recipients.every((r) => r.status === "sent") ? body : undefined;
      });
      expect(status.recipients).toHaveLength(2);
    }
    const files = await until(() => {
      const alice = exim.delivered("alice");
      const bob = exim.delivered("bob");
      return Promise.resolve(
        alice.length >= COUNT && bob.length >= COUNT ? { alice, bob } : undefined,
      );
    });

    child.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code, stderr).toBe(0);

    const stored = await world.query(async ({ db }) =>
      rowsOf<{ id: string; raw: Buffer | Uint8Array; smtp_reply: string }>(
        await db.execute(sql`
          SELECT m.id, b.raw,
                 (SELECT string_agg(o.smtp_reply, ' ') FROM outbound_messages o WHERE o.message_id = m.id) AS smtp_reply
          FROM messages m JOIN message_bodies b ON b.message_id = m.id`),
      ),
    );
    expect(stored.map((s) => s.id).toSorted()).toEqual(submitted.map((s) => s.id).toSorted());
    // Exactly once each: a second delivery of anything would make these counts grow.
    expect(files.alice).toHaveLength(COUNT);
    expect(files.bob).toHaveLength(COUNT);
    for (const { raw: bytes, smtp_reply } of stored) {
      const raw = Buffer.from(bytes);
      expect(raw.toString("latin1")).not.toMatch(/^bcc:/im);
      // Exim's queue id is what the worker kept from its final reply.
      expect(smtp_reply).toMatch(/^250 OK id=\S+ 250 OK id=\S+$/);
      for (const [who, delivered] of Object.entries(files)) {
        const matching = delivered.filter((file) =>
          file.subarray(file.length - raw.length).equals(raw),
        );
        expect(matching, who).toHaveLength(1);
        const trace = matching[0]!.subarray(0, matching[0]!.length - raw.length).toString("latin1");
        // esmtpsa: Exim saw ESMTP over TLS with AUTH, the only way the worker sends.
        expect(trace).toMatch(
          new RegExp(
            `^Envelope-to: ${who}@${DOMAIN}\\r\\nReceived: from \\[127\\.0\\.0\\.1\\]\\r\\n\\tby exim\\.test\\.example with esmtpsa [^]*\\tfor ${who}@${DOMAIN};`,
          ),
        );
        expect(trace).not.toMatch(/^bcc:/im);
      }
    }
  },
  240_000,
);
