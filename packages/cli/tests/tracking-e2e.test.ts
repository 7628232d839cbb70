// Issue 16's "done when", as a user would: a tracked message sent through `serve` (the built
// CLI with its worker, to a real SMTP server), then a real HTTP client opening the pixel and
// following the link sets opened_at / clicked_at; a bot's fetch is recorded and sets nothing.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { PASSWORD, USERNAME } from "@imap-proxy/testing/credentials";
import { makeTestPki, type TestPki } from "@imap-proxy/testing/pki";
import { startSmtpServer, type RunningServer } from "@imap-proxy/testing/smtp-server";
import { freePort } from "@imap-proxy/testing/tcp";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CliWorld, createMailboxWithSendToken, openCliWorld, startServe } from "./support.ts";

const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
const LANDING = "https://shop.example.org/landing?id=7&src=mail";

let pki: TestPki;
let sink: RunningServer;
let world: CliWorld;
let env: NodeJS.ProcessEnv;
let token: string;
const received = new Map<string, Buffer>();

beforeAll(async () => {
  pki = makeTestPki();
  sink = await startSmtpServer({
    secure: false,
    ...pki.server,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        for (const rcpt of session.envelope.rcptTo)
          received.set(rcpt.address, Buffer.concat(chunks));
        callback();
      });
    },
  });
  world = await openCliWorld();
  const caFile = path.join(pki.dir, "ca.pem");
  writeFileSync(caFile, pki.caPem);
  env = {
    ...world.env,
    SMTP_CA_FILE: caFile,
    TRACKING_SECRET: "tracking-secret-for-the-e2e-test-0123456789",
  };
  // No IMAP server in this test: no Sent copy.
  token = await createMailboxWithSendToken(
    env,
    {
      "smtp-host": "localhost",
      "smtp-port": String(sink.port),
      "smtp-username": USERNAME,
      "sent-copy": "off",
    },
    { smtp: PASSWORD },
  );
}, 240_000);
afterAll(async () => {
  await world?.close();
  await sink?.close();
});

interface Recipient {
  email: string;
  status: string;
  sentAt: string | null;
  openedAt: string | null;
  clickedAt: string | null;
  events: { opens: Record<string, number>; clicks: Record<string, number> };
}

describe("serve: open and click tracking", () => {
  test("a reader's open and click set opened_at/clicked_at; a bot's open does not", async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const serve = await startServe({ ...env, PUBLIC_URL: publicUrl }, [
      "--port",
      String(port),
      "--worker",
    ]);
    try {
      const auth = { authorization: `Bearer ${token}` };
      const submitted = await fetch(`${serve.url}/v1/messages`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          to: ["ann@example.net", "bob@example.net"],
          subject: "Tracked",
          text: "See the shop",
          html: `<p>See <a href="${LANDING.replace("&", "&amp;")}">the shop</a></p>`,
          tracking: { opens: true, clicks: true },
        }),
      });
      expect(submitted.status).toBe(202);
      const { id } = (await submitted.json()) as { id: string };
      const recipients = async () => {
        const response = await fetch(`${serve.url}/v1/messages/${id}`, { headers: auth });
        const body = (await response.json()) as { recipients: Recipient[] };
        return Object.fromEntries(body.recipients.map((r) => [r.email, r]));
      };
      const until = async (done: (r: Record<string, Recipient>) => boolean) => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const seen = await recipients();
          if (done(seen)) return seen;
          if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(seen)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      await until(
        (r) => r["ann@example.net"]?.status === "sent" && r["bob@example.net"]?.status === "sent",
      );

      // What each reader got: their own pixel and redirect, on PUBLIC_URL.
      const trackerUrls = async (rcpt: string) => {
        const html = String((await simpleParser(received.get(rcpt)!)).html);
        const pixel = new RegExp(`${publicUrl}/t/o/[A-Za-z0-9_-]+`).exec(html)?.[0];
        const link = new RegExp(`${publicUrl}/t/c/[A-Za-z0-9_-]+`).exec(html)?.[0];
        expect(pixel, html).toBeDefined();
        expect(link, html).toBeDefined();
        return { pixel: pixel!, link: link! };
      };
      const ann = await trackerUrls("ann@example.net");
      const bob = await trackerUrls("bob@example.net");
      expect(ann.pixel).not.toBe(bob.pixel);

      // A reader opens it (after the 2 s in which a click counts as a gateway's scan) …
      await new Promise((r) => setTimeout(r, 2_100));
      const pixel = await fetch(ann.pixel, { headers: { "user-agent": FIREFOX } });
      expect(pixel.status).toBe(200);
      expect(pixel.headers.get("content-type")).toBe("image/gif");
      expect(pixel.headers.get("cache-control")).toContain("no-store");
      const gif = Buffer.from(await pixel.arrayBuffer());
      expect(gif.subarray(0, 6).toString("latin1")).toBe("GIF89a");
      expect(gif).toHaveLength(42);
      // … and follows the link: to exactly the stored URL.
      const click = await fetch(ann.link, {
        headers: { "user-agent": FIREFOX },
        redirect: "manual",
      });
      expect(click.status).toBe(302);
      expect(click.headers.get("location")).toBe(LANDING);

      // A crawler fetches bob's pixel: recorded as a bot, opened_at stays empty.
      const crawler = await fetch(bob.pixel, {
        headers: {
          "user-agent": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        },
      });
      expect(crawler.status).toBe(200);

      const seen = await until(
        (r) =>
          r["ann@example.net"]!.openedAt !== null &&
          r["ann@example.net"]!.clickedAt !== null &&
          r["bob@example.net"]!.events.opens.bot === 1,
      );
      expect(seen["ann@example.net"]!.events).toEqual({
        opens: { human: 1, bot: 0, proxy: 0 },
        clicks: { human: 1, bot: 0, proxy: 0 },
      });
      expect(new Date(seen["ann@example.net"]!.openedAt!).getTime()).toBeGreaterThan(
        new Date(seen["ann@example.net"]!.sentAt!).getTime(),
      );
      expect(seen["bob@example.net"]!.openedAt).toBeNull();

      expect(await serve.stop()).toBe(0);
      expect(serve.output()).not.toContain(env.TRACKING_SECRET);
    } finally {
      serve.kill();
    }
  }, 240_000);
});
