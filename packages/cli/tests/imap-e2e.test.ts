// Issue 15's "done when", as a user would: a message sent through `serve` (the built CLI, real
// HTTP) appears once in the mailbox's Sent folder (the untracked original, issue 16), and a
// bounce for an unknown recipient — Exim's own DSN, delivered into the same Dovecot — turns
// exactly that recipient `bounced`.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import {
  IMAP_PASSWORD,
  IMAP_USERNAME,
  dovecotBinary,
  startDovecot,
  type RunningDovecot,
} from "@imap-proxy/testing/dovecot";
import { eximBinary } from "@imap-proxy/testing/exim";
import { startEximToDovecot, type RunningEximToDovecot } from "@imap-proxy/testing/exim-to-dovecot";
import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type CliWorld,
  cliBundle,
  openCliWorld,
  startServe,
  createMailboxWithSendToken,
} from "./support.ts";

const peers = dovecotBinary() !== undefined && eximBinary() !== undefined;
const DOMAIN = "example.test";
const KNOWN = `other@${DOMAIN}`;
const UNKNOWN = `nobody@${DOMAIN}`;
const TRACKER = "https://track.example.org";

let pki: TestPki;
let dovecot: RunningDovecot;
let exim: RunningEximToDovecot;
let world: CliWorld;
let env: NodeJS.ProcessEnv;
let token: string;

beforeAll(async () => {
  if (!peers) return;
  pki = makeTestPki();
  dovecot = await startDovecot(pki, { users: [KNOWN] });
  exim = await startEximToDovecot({
    lmtpPort: dovecot.lmtpPort,
    domain: DOMAIN,
    users: ["owner", "other"],
    submission: { pki },
  });
  world = await openCliWorld();
  const caFile = path.join(pki.dir, "ca.pem");
  writeFileSync(caFile, pki.caPem);
  env = { ...world.env, IMAP_CA_FILE: caFile, SMTP_CA_FILE: caFile };
  token = await createMailboxWithSendToken(
    env,
    {
      email: IMAP_USERNAME,
      "imap-host": "localhost",
      "imap-port": String(dovecot.implicitPort),
      "imap-username": IMAP_USERNAME,
      "smtp-host": "localhost",
      "smtp-port": String(exim.submissionPort),
      "smtp-username": USERNAME,
      "smtp-tls-mode": "starttls_required",
      "bounce-reading": "on",
    },
    { imap: IMAP_PASSWORD, smtp: PASSWORD },
  );
}, 240_000);
afterAll(async () => {
  await world?.close();
  await exim?.close();
  await dovecot?.close();
});

interface Recipient {
  email: string;
  status: string;
  smtpReply: { code: number } | null;
  reports: { kind: string; action: string; status: string }[];
}

/** The HTML part of the message with that Message-ID in a user's folder, decoded. */
async function htmlOf(user: string, folder: string, header: string): Promise<string> {
  const fetched = dovecot.doveadm(
    "fetch",
    "-u",
    user,
    "text",
    "mailbox",
    folder,
    "header",
    "Message-ID",
    header,
  );
  return String((await simpleParser(fetched.replace(/^text:\n/, ""))).html);
}

const inFolder = (folder: string, header: string) =>
  dovecot
    .doveadm("search", "-u", IMAP_USERNAME, "mailbox", folder, "header", "Message-ID", header)
    .split("\n")
    .filter(Boolean).length;

describe.skipIf(!peers)("serve: Sent copy and bounces over IMAP", () => {
  test("a sent message is in Sent once; Exim's DSN for the unknown recipient bounces exactly it", async () => {
    const serve = await startServe(
      {
        ...env,
        PUBLIC_URL: TRACKER,
        TRACKING_SECRET: "tracking-secret-for-the-imap-e2e-0123456789",
      },
      ["--worker"],
    );
    try {
      const auth = { authorization: `Bearer ${token}` };
      const submitted = await fetch(`${serve.url}/v1/messages`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          to: [KNOWN, UNKNOWN],
          subject: "Over IMAP",
          text: "Hello.",
          html: '<p>Hello, see <a href="https://shop.example.org/">the shop</a>.</p>',
          tracking: { opens: true, clicks: true },
        }),
      });
      expect(submitted.status).toBe(202);
      const { id, messageId } = (await submitted.json()) as { id: string; messageId: string };

      const recipients = async () => {
        const response = await fetch(`${serve.url}/v1/messages/${id}`, { headers: auth });
        const body = (await response.json()) as { recipients: Recipient[] };
        return Object.fromEntries(body.recipients.map((r) => [r.email, r]));
      };
      const deadline = Date.now() + 90_000;
      let seen = await recipients();
      while (seen[UNKNOWN]?.status !== "bounced" || inFolder("Sent", messageId) === 0) {
        if (Date.now() > deadline)
          throw new Error(
            `not there yet: ${JSON.stringify(seen)}\n${serve.output()}\n${exim.mainLog()}`,
          );
        await new Promise((r) => setTimeout(r, 500));
        seen = await recipients();
      }

      // Exactly that recipient bounced, with the report; the other keeps its 250 reply.
      expect(seen[KNOWN]).toMatchObject({ status: "sent", reports: [] });
      expect(seen[KNOWN]!.smtpReply?.code).toBe(250);
      expect(seen[UNKNOWN].reports).toEqual([
        expect.objectContaining({ kind: "bounce", action: "failed" }),
      ]);
      expect(seen[UNKNOWN].reports[0]!.status).toMatch(/^5\./);
      expect(inFolder("Sent", messageId)).toBe(1);
      // The reader got the tracked HTML; the Sent copy is the untracked original.
      const sentHtml = await htmlOf(IMAP_USERNAME, "Sent", messageId);
      expect(sentHtml).toContain('href="https://shop.example.org/"');
      expect(sentHtml).not.toContain(TRACKER);
      const readerHtml = await htmlOf(KNOWN, "INBOX", messageId);
      expect(readerHtml).toMatch(new RegExp(`${TRACKER}/t/c/[\\w-]+`));
      expect(readerHtml).toMatch(new RegExp(`${TRACKER}/t/o/[\\w-]+`));
      // The known recipient really got it; the DSN stays in INBOX (read-only reader).
      expect(
        dovecot
          .doveadm("search", "-u", KNOWN, "mailbox", "INBOX", "header", "Message-ID", messageId)
          .split("\n")
          .filter(Boolean),
      ).toHaveLength(1);

      // More copier passes and bounce passes change nothing.
      await new Promise((r) => setTimeout(r, 6_000));
      expect(inFolder("Sent", messageId)).toBe(1);
      expect((await recipients())[UNKNOWN]!.reports).toHaveLength(1);

      expect(await serve.stop()).toBe(0);
      expect(serve.output()).not.toContain(IMAP_PASSWORD);
      expect(serve.output()).not.toContain(PASSWORD);
    } finally {
      serve.kill();
    }
  }, 240_000);
});

describe.skipIf(!peers || !process.env.DATABASE_URL)(
  "imap-proxy worker: the same IMAP work",
  () => {
    test("a worker process makes the Sent copy and reads the bounce, and stops on SIGTERM", async () => {
      const serve = await startServe(env); // on Postgres without --worker: accepts only
      const worker = spawn(process.execPath, [cliBundle, "worker"], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      worker.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => worker.once("exit", resolve));
      try {
        const auth = { authorization: `Bearer ${token}` };
        const unknown = `gone-${Date.now()}@${DOMAIN}`;
        const submitted = await fetch(`${serve.url}/v1/messages`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ to: [KNOWN, unknown], subject: "By the worker", text: "Hi." }),
        });
        expect(submitted.status).toBe(202);
        const { id, messageId } = (await submitted.json()) as { id: string; messageId: string };
        const deadline = Date.now() + 90_000;
        for (;;) {
          const response = await fetch(`${serve.url}/v1/messages/${id}`, { headers: auth });
          const body = (await response.json()) as { recipients: Recipient[] };
          const bounced = body.recipients.find((r) => r.email === unknown)?.status === "bounced";
          if (bounced && inFolder("Sent", messageId) === 1) {
            expect(body.recipients.find((r) => r.email === KNOWN)?.status).toBe("sent");
            break;
          }
          if (Date.now() > deadline)
            throw new Error(`not there yet: ${JSON.stringify(body)}\n${stderr}`);
          await new Promise((r) => setTimeout(r, 500));
        }
        worker.kill("SIGTERM");
        expect(await exited).toBe(0);
        expect(inFolder("Sent", messageId)).toBe(1);
        expect(stderr).not.toContain(IMAP_PASSWORD);
      } finally {
        if (worker.exitCode === null) worker.kill("SIGKILL");
        await serve.stop();
      }
    }, 240_000);
  },
);
