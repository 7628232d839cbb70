import { type Database, rowsOf, sql } from "@imap-proxy/db";
import { loadSendInputs } from "@imap-proxy/db/queue";
import { TRACKING_PIXEL_GIF, TrackingKeys } from "@imap-proxy/tracking";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { trackingConfigFromEnv, trustProxyFromEnv } from "../src/index.ts";
import { type TestApi, bearer, openTestApi } from "./helpers.ts";

const PUBLIC_URL = "https://track.example.org/mail";
const SECRET = "tracking-secret-for-the-api-tests-0123456789";
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
const HTML =
  '<html><body><p>Hi <a href="https://shop.example.com/a?x=1&amp;y=2">shop</a>, ' +
  '<a href="mailto:help@example.com">mail us</a>, <a href="#top">top</a>, ' +
  '<a href="https://example.com/unsubscribe">unsubscribe</a>, ' +
  "<a href='http://docs.example.com/guide'>guide</a></p></body></html>";

let api: TestApi;
let untracked: TestApi;
let db: Database;
let mailboxId: string;
let token: string;
const keys = TrackingKeys.parse(SECRET);

beforeAll(async () => {
  api = await openTestApi({}, undefined, {
    tracking: { publicUrl: PUBLIC_URL, keys },
    trustProxy: true,
  });
  untracked = await openTestApi({}, api.database);
  db = api.database.db;
  mailboxId = await api.mailbox();
  token = await api.token(mailboxId, ["messages:send", "messages:read"]);
});
afterAll(async () => {
  await untracked?.close();
  await api?.close();
});

const submit = (app: TestApi, payload: object) =>
  app.app.inject({ method: "POST", url: "/v1/messages", headers: bearer(token), payload });

async function tracked(extra: object = {}) {
  const response = await submit(api, {
    to: ["ann@example.net", "bob@example.net"],
    subject: "Tracked",
    text: "Plain https://shop.example.com/a stays",
    html: HTML,
    headers: { "List-Unsubscribe": "<https://example.com/unsubscribe>" },
    tracking: { opens: true, clicks: true },
    ...extra,
  });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: string; recipients: { id: string }[] }>();
}

const count = async (query: ReturnType<typeof sql>) =>
  rowsOf<{ n: number }>(await db.execute(query))[0]!.n;

const eventsOf = (recipientId: string) =>
  db
    .execute(
      sql`SELECT kind, label, user_agent, ip_prefix::text AS ip_prefix FROM tracking_events WHERE outbound_message_id = ${recipientId}::uuid ORDER BY id`,
    )
    .then((r) => rowsOf<{ kind: string; label: string; user_agent: string; ip_prefix: string }>(r));

const stamps = async (recipientId: string) =>
  rowsOf<{ opened_at: Date | null; clicked_at: Date | null }>(
    await db.execute(
      sql`SELECT opened_at, clicked_at FROM outbound_messages WHERE id = ${recipientId}::uuid`,
    ),
  )[0]!;

/** queued → processing → sent, `agoMs` ago. */
async function markSent(recipientId: string, agoMs: number) {
  await db.execute(sql`
    UPDATE outbound_messages SET status = 'processing', attempts = 1, processing_started_at = now(),
      lease_renewed_at = now(), lease_owner = 't' WHERE id = ${recipientId}::uuid`);
  await db.execute(sql`
    UPDATE outbound_messages SET status = 'sent', processing_started_at = NULL, lease_renewed_at = NULL,
      lease_owner = NULL, sent_at = now() - ${agoMs}::int * interval '1 millisecond'
    WHERE id = ${recipientId}::uuid`);
}

/** Opens are written just after their responses: wait until `n` events exist. */
async function eventsSettled(recipientId: string, n: number) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const events = await eventsOf(recipientId);
    if (events.length >= n || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The tracked HTML part each recipient is sent (what the sender loads for the row). */
async function sentHtml(recipientId: string): Promise<string> {
  const input = (await loadSendInputs(db, [recipientId])).get(recipientId)!;
  return String((await simpleParser(input.raw!)).html);
}

const linksIn = (html: string, kind: "o" | "c") =>
  [...html.matchAll(new RegExp(`${PUBLIC_URL}/t/${kind}/([A-Za-z0-9_-]+)`, "g"))].map((m) => m[1]!);

describe("submitting with tracking", () => {
  test("without PUBLIC_URL asking for tracking is a 400 problem and writes nothing", async () => {
    const before = await count(sql`SELECT count(*)::int AS n FROM messages`);
    const response = await submit(untracked, {
      to: ["ann@example.net"],
      subject: "x",
      html: HTML,
      tracking: { opens: true },
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: "tracking_unavailable" });
    expect(await count(sql`SELECT count(*)::int AS n FROM messages`)).toBe(before);
    // Off is fine without it.
    const off = await submit(untracked, {
      to: ["ann@example.net"],
      subject: "x",
      html: HTML,
      tracking: { opens: false, clicks: false },
    });
    expect(off.statusCode).toBe(202);
  });

  test("each recipient gets its own tracked HTML; the stored original (the Sent copy) is untracked", async () => {
    const created = await tracked();
    const [ann, bob] = created.recipients.map((r) => r.id) as [string, string];
    const links = rowsOf<{ position: number; url: string }>(
      await db.execute(
        sql`SELECT position, url FROM tracking_links WHERE message_id = ${created.id}::uuid ORDER BY position`,
      ),
    );
    // mailto:, #anchors and the List-Unsubscribe target are left alone.
    expect(links).toEqual([
      { position: 0, url: "https://shop.example.com/a?x=1&y=2" },
      { position: 1, url: "http://docs.example.com/guide" },
    ]);

    const annHtml = await sentHtml(ann);
    const bobHtml = await sentHtml(bob);
    expect(linksIn(annHtml, "c").map((t) => keys.verify(t))).toEqual([
      { kind: "click", recipientId: ann, link: 0 },
      { kind: "click", recipientId: ann, link: 1 },
    ]);
    expect(linksIn(annHtml, "o").map((t) => keys.verify(t))).toEqual([
      { kind: "open", recipientId: ann },
    ]);
    expect(linksIn(bobHtml, "o").map((t) => keys.verify(t))).toEqual([
      { kind: "open", recipientId: bob },
    ]);
    for (const kept of [
      'href="mailto:help@example.com"',
      'href="#top"',
      'href="https://example.com/unsubscribe"',
    ])
      expect(annHtml).toContain(kept);

    // Text untouched; the message's own body (the Sent copy) carries no tracker.
    const input = (await loadSendInputs(db, [ann])).get(ann)!;
    expect((await simpleParser(input.raw!)).text?.trim()).toBe(
      "Plain https://shop.example.com/a stays",
    );
    const [original] = rowsOf<{ raw: Uint8Array }>(
      await db.execute(sql`SELECT raw FROM message_bodies WHERE message_id = ${created.id}::uuid`),
    );
    const originalHtml = String((await simpleParser(Buffer.from(original!.raw))).html);
    expect(originalHtml).not.toContain("/t/");
    expect(originalHtml).toContain('href="https://shop.example.com/a?x=1&amp;y=2"');

    // Stored once, never changed: every retry sends exactly these bytes.
    await expect(
      db.execute(
        sql`UPDATE recipient_bodies SET raw = ${Buffer.from("x")}, size_bytes = 1 WHERE outbound_message_id = ${ann}::uuid`,
      ),
    ).rejects.toThrow();
  });

  test("the mailbox's default applies when the request does not say; the request wins", async () => {
    const other = await api.mailbox();
    const otherToken = await api.token(other, ["messages:send"]);
    await db.execute(sql`UPDATE mailboxes SET track_opens = true WHERE id = ${other}::uuid`);
    const send = (extra: object) =>
      api.app.inject({
        method: "POST",
        url: "/v1/messages",
        headers: bearer(otherToken),
        payload: { to: ["ann@example.net"], subject: "d", html: HTML, ...extra },
      });
    const byDefault = (await send({})).json<{ recipients: { id: string }[] }>();
    expect(linksIn(await sentHtml(byDefault.recipients[0]!.id), "o")).toHaveLength(1);
    expect(linksIn(await sentHtml(byDefault.recipients[0]!.id), "c")).toHaveLength(0);
    const declined = (await send({ tracking: { opens: false } })).json<{
      recipients: { id: string }[];
    }>();
    expect(linksIn(await sentHtml(declined.recipients[0]!.id), "o")).toHaveLength(0);
  });
});

describe("the pixel and the redirect", () => {
  test("pixel: the same GIF for any token; only a valid one records; bots never set opened_at", async () => {
    const created = await tracked();
    const [ann, bob] = created.recipients.map((r) => r.id) as [string, string];
    const open = (tokenText: string, userAgent = FIREFOX) =>
      api.app.inject({
        method: "GET",
        url: `/t/o/${tokenText}`,
        headers: { "user-agent": userAgent, "x-forwarded-for": "203.0.113.77" },
      });
    const valid = keys.sign({ kind: "open", recipientId: ann });

    // Before it is sent: recorded, but opened_at waits for sent_at.
    const early = await open(valid);
    expect(await eventsSettled(ann, 1)).toHaveLength(1);
    expect((await stamps(ann)).opened_at).toBeNull();

    await markSent(ann, 60_000);
    await markSent(bob, 60_000);
    const first = await open(valid);
    const forged = await open(`${valid.slice(0, -2)}AA`);
    const wrongSecret = await open(
      TrackingKeys.parse("another-secret-another-secret-0123456789").sign({
        kind: "open",
        recipientId: ann,
      }),
    );
    const clickToken = await open(keys.sign({ kind: "click", recipientId: ann, link: 0 }));
    const junk = await open("x".repeat(300));
    for (const response of [early, first, forged, wrongSecret, clickToken, junk]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toBe("image/gif");
      expect(response.headers["cache-control"]).toContain("no-store");
      expect(response.rawPayload.equals(TRACKING_PIXEL_GIF)).toBe(true);
    }
    const events = await eventsSettled(ann, 2);
    await new Promise((r) => setTimeout(r, 200)); // anything else would have been written by now
    expect(await eventsOf(ann)).toHaveLength(2);
    expect(events[1]).toEqual({
      kind: "open",
      label: "human",
      user_agent: FIREFOX,
      ip_prefix: "203.0.113.0/24", // TRUST_PROXY: the forwarded client, its network only
    });
    expect((await stamps(ann)).opened_at).not.toBeNull();

    // A scanner's fetch is recorded as a bot and sets nothing.
    await open(
      keys.sign({ kind: "open", recipientId: bob }),
      "Mozilla/5.0 (compatible; Googlebot/2.1)",
    );
    expect((await eventsSettled(bob, 1))[0]).toMatchObject({ kind: "open", label: "bot" });
    expect((await stamps(bob)).opened_at).toBeNull();
  });

  test("redirect: exactly the stored link; altered tokens are 404 and record nothing; quick clicks are bots", async () => {
    const created = await tracked();
    const [ann, bob] = created.recipients.map((r) => r.id) as [string, string];
    const click = (tokenText: string) =>
      api.app.inject({
        method: "GET",
        url: `/t/c/${tokenText}?url=https://evil.example`,
        headers: { "user-agent": FIREFOX },
      });
    await markSent(ann, 60_000);
    const valid = keys.sign({ kind: "click", recipientId: ann, link: 0 });
    const response = await click(valid);
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe("https://shop.example.com/a?x=1&y=2");
    expect(response.headers["cache-control"]).toContain("no-store");
    expect(
      (await click(keys.sign({ kind: "click", recipientId: ann, link: 1 }))).headers.location,
    ).toBe("http://docs.example.com/guide");
    expect((await stamps(ann)).clicked_at).not.toBeNull();

    const before = (await eventsOf(ann)).length;
    const altered = `${valid.slice(0, 10)}${valid[10] === "A" ? "B" : "A"}${valid.slice(11)}`;
    for (const bad of [
      altered,
      keys.sign({ kind: "click", recipientId: ann, link: 7 }), // no such stored link
      keys.sign({ kind: "open", recipientId: ann }),
      "not-a-token",
    ]) {
      const refused = await click(bad);
      expect(refused.statusCode, bad).toBe(404);
      expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(refused.headers.location).toBeUndefined();
    }
    expect(await eventsOf(ann)).toHaveLength(before);

    // Clicked within 2 s of delivery: a gateway scanning the message, not the reader.
    await markSent(bob, 0);
    expect((await click(keys.sign({ kind: "click", recipientId: bob, link: 0 }))).statusCode).toBe(
      302,
    );
    expect((await eventsOf(bob))[0]).toMatchObject({ kind: "click", label: "bot" });
    expect((await stamps(bob)).clicked_at).toBeNull();
  });

  test("GET /v1/messages/{id} counts events by label; /events lists them in keyset pages", async () => {
    const created = await tracked();
    const [ann] = created.recipients.map((r) => r.id) as [string];
    await markSent(ann, 60_000);
    for (const userAgent of [FIREFOX, FIREFOX, "curl/8.0"])
      await api.app.inject({
        method: "GET",
        url: `/t/o/${keys.sign({ kind: "open", recipientId: ann })}`,
        headers: { "user-agent": userAgent },
      });
    await eventsSettled(ann, 3);
    await api.app.inject({
      method: "GET",
      url: `/t/c/${keys.sign({ kind: "click", recipientId: ann, link: 1 })}`,
      headers: { "user-agent": FIREFOX },
    });
    await eventsSettled(ann, 4);
    const status = (
      await api.app.inject({
        method: "GET",
        url: `/v1/messages/${created.id}`,
        headers: bearer(token),
      })
    ).json();
    expect(status.recipients[0].events).toEqual({
      opens: { human: 2, bot: 1, proxy: 0 },
      clicks: { human: 1, bot: 0, proxy: 0 },
    });
    expect(status.recipients[0].openedAt).not.toBeNull();
    expect(status.recipients[0].clickedAt).not.toBeNull();

    const seen: { kind: string; url: string | null; label: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { data: typeof seen; nextCursor: string | null } = (
        await api.app.inject({
          method: "GET",
          url: `/v1/messages/${created.id}/events?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
          headers: bearer(token),
        })
      ).json();
      seen.push(...page.data);
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 5);
    expect(pages).toBe(2);
    expect(seen.map((e) => [e.kind, e.label, e.url])).toEqual([
      ["open", "human", null],
      ["open", "human", null],
      ["open", "bot", null],
      ["click", "human", "http://docs.example.com/guide"],
    ]);
    const other = await api.token(await api.mailbox(), ["messages:read"]);
    const foreign = await api.app.inject({
      method: "GET",
      url: `/v1/messages/${created.id}/events`,
      headers: bearer(other),
    });
    expect(foreign.statusCode).toBe(404);
  });
});

describe("configuration", () => {
  test("PUBLIC_URL and TRACKING_SECRET go together; TRUST_PROXY is checked", () => {
    expect(trackingConfigFromEnv({})).toBeUndefined();
    expect(
      trackingConfigFromEnv({ PUBLIC_URL: "https://x.example/p/", TRACKING_SECRET: SECRET })
        ?.publicUrl,
    ).toBe("https://x.example/p");
    expect(() => trackingConfigFromEnv({ PUBLIC_URL: "https://x.example" })).toThrow(
      /TRACKING_SECRET/,
    );
    expect(() => trackingConfigFromEnv({ TRACKING_SECRET: SECRET })).toThrow(/PUBLIC_URL/);
    expect(() =>
      trackingConfigFromEnv({ PUBLIC_URL: "ftp://x.example", TRACKING_SECRET: SECRET }),
    ).toThrow(/PUBLIC_URL/);
    expect(() =>
      trackingConfigFromEnv({ PUBLIC_URL: "https://x.example", TRACKING_SECRET: "short" }),
    ).toThrow(/too short/);
    expect(trustProxyFromEnv({ TRUST_PROXY: "10.0.0.0/8, ::1" })).toEqual(["10.0.0.0/8", "::1"]);
    expect(() => trustProxyFromEnv({ TRUST_PROXY: "proxy.local" })).toThrow(/TRUST_PROXY/);
  });
});
