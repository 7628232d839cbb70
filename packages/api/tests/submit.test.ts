import { sql } from "@imap-proxy/db";
import { rowsOf } from "@imap-proxy/db";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type TestApi, bearer, minimal, openTestApi } from "./helpers.ts";

let api: TestApi;
let mailboxId: string;
let token: string;

beforeAll(async () => {
  api = await openTestApi({ maxMessageBytes: 64 * 1024 });
  mailboxId = await api.mailbox("Ops@Example.COM");
  token = await api.token(mailboxId);
});
afterAll(async () => {
  await api?.close();
});

const submit = (payload: unknown, headers: Record<string, string> = {}) =>
  api.app.inject({
    method: "POST",
    url: "/v1/messages",
    headers: { ...bearer(token), ...headers },
    payload: payload as object,
  });

async function count(table: string): Promise<number> {
  const [row] = rowsOf<{ n: number }>(
    await api.database.db.execute(sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)}`),
  );
  return row!.n;
}

async function storedBody(messageId: string): Promise<Buffer> {
  const [row] = rowsOf<{ raw: Uint8Array }>(
    await api.database.db.execute(
      sql`SELECT raw FROM message_bodies WHERE message_id = ${messageId}::uuid`,
    ),
  );
  return Buffer.from(row!.raw);
}

describe("POST /v1/messages", () => {
  test("202: composes once, stores the bytes, one queued row per envelope recipient", async () => {
    const attachment = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13]);
    const response = await submit({
      to: ["ann@example.net", { name: "Bob B.", address: "bob@example.net" }],
      cc: ["ANN@example.net", "carl@example.org"],
      bcc: ["secret@hidden.example", "Bob@Example.NET"],
      replyTo: "replies@example.com",
      subject: "Quarterly report ✓",
      text: "Hello in text",
      html: "<p>Hello in <b>HTML</b></p>",
      fromName: "Ops Team",
      headers: {
        "X-Campaign": "q3",
        "List-Unsubscribe": "<mailto:unsubscribe@example.com>",
        "In-Reply-To": "<earlier@example.com>",
      },
      attachments: [
        {
          filename: "data.bin",
          contentType: "application/octet-stream",
          content: attachment.toString("base64"),
        },
      ],
    });
    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(response.headers.location).toBe(`/v1/messages/${body.id}`);
    expect(body.status).toBe("queued");
    expect(body.messageId).toBe(`<${body.id}@example.com>`);
    // De-duplicated case-insensitively, first spelling kept, to → cc → bcc order.
    expect(body.recipients.map((r: { email: string }) => r.email)).toEqual([
      "ann@example.net",
      "bob@example.net",
      "carl@example.org",
      "secret@hidden.example",
    ]);
    expect(body.recipients.every((r: { status: string }) => r.status === "queued")).toBe(true);

    const rows = rowsOf<{
      id: string;
      recipient_email: string;
      status: string;
      mailbox_id: string;
    }>(
      await api.database.db.execute(
        sql`SELECT id, recipient_email, status, mailbox_id FROM outbound_messages WHERE message_id = ${body.id}::uuid ORDER BY id`,
      ),
    );
    expect(rows.map((r) => r.id)).toEqual(body.recipients.map((r: { id: string }) => r.id));
    expect(rows.every((r) => r.status === "queued" && r.mailbox_id === mailboxId)).toBe(true);

    const raw = await storedBody(body.id);
    const [size] = rowsOf<{ size_bytes: number }>(
      await api.database.db.execute(
        sql`SELECT size_bytes FROM message_bodies WHERE message_id = ${body.id}::uuid`,
      ),
    );
    expect(size!.size_bytes).toBe(raw.length);
    expect(raw.toString("latin1")).not.toMatch(/secret@hidden\.example/i);
    expect(raw.toString("latin1")).not.toMatch(/^bcc:/im);

    const parsed = await simpleParser(raw);
    expect(parsed.messageId).toBe(body.messageId);
    expect(parsed.from?.value).toEqual([{ name: "Ops Team", address: "Ops@example.com" }]);
    expect(parsed.subject).toBe("Quarterly report ✓");
    expect(parsed.text?.trim()).toBe("Hello in text");
    expect(parsed.html).toContain("<b>HTML</b>");
    expect(parsed.bcc).toBeUndefined();
    expect(parsed.date).toBeInstanceOf(Date);
    expect(Math.abs(parsed.date!.getTime() - Date.now())).toBeLessThan(5 * 60_000);
    expect(parsed.headers.get("x-campaign")).toBe("q3");
    expect(parsed.inReplyTo).toBe("<earlier@example.com>");
    expect(raw.toString("latin1")).toMatch(
      /^List-Unsubscribe: <mailto:unsubscribe@example\.com>\r$/m,
    );
    expect(parsed.replyTo?.value[0]?.address).toBe("replies@example.com");
    const to = (Array.isArray(parsed.to) ? parsed.to : [parsed.to]).flatMap((a) => a!.value);
    expect(to.map((a) => a.address)).toEqual(["ann@example.net", "bob@example.net"]);
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.filename).toBe("data.bin");
    expect(parsed.attachments[0]!.contentType).toBe("application/octet-stream");
    expect(Buffer.compare(parsed.attachments[0]!.content, attachment)).toBe(0);
  });

  test("every validation rule: 400 problem naming each bad field, nothing written", async () => {
    const before = [await count("messages"), await count("outbound_messages")];
    const cases: [unknown, string[]][] = [
      [minimal({ to: undefined }), ["to"]],
      [minimal({ to: [] }), ["to"]],
      [minimal({ to: Array.from({ length: 101 }, (_, i) => `r${i}@example.net`) }), ["to"]],
      [minimal({ to: ["not-an-address"] }), ["to.0"]],
      [minimal({ to: [{ name: "Evil\r\nBcc: x@y.z", address: "a@example.net" }] }), ["to.0.name"]],
      [minimal({ cc: ["nope"] }), ["cc.0"]],
      [minimal({ bcc: [{ address: "nope" }] }), ["bcc.0.address"]],
      [minimal({ replyTo: "nope" }), ["replyTo"]],
      [minimal({ subject: undefined }), ["subject"]],
      [minimal({ subject: "Hi\r\nBcc: victim@example.com" }), ["subject"]],
      [minimal({ subject: "x".repeat(999) }), ["subject"]],
      [minimal({ text: undefined }), ["text"]],
      [minimal({ fromName: "A\nB" }), ["fromName"]],
      [minimal({ headers: { From: "boss@example.com" } }), ["headers.From"]],
      [minimal({ headers: { Sender: "x@example.com" } }), ["headers.Sender"]],
      [minimal({ headers: { Bcc: "x@example.com" } }), ["headers.Bcc"]],
      [minimal({ headers: { Received: "from x" } }), ["headers.Received"]],
      [minimal({ headers: { "DKIM-Signature": "v=1" } }), ["headers.DKIM-Signature"]],
      [minimal({ headers: { "Message-ID": "<a@b>" } }), ["headers.Message-ID"]],
      [minimal({ headers: { "X-Ok": "one\r\nBcc: x@y.z" } }), ["headers.X-Ok"]],
      [minimal({ headers: { "X-": "empty name tail" } }), ["headers.X-"]],
      [
        minimal({ attachments: [{ filename: "a.txt", contentType: "text/plain", content: "!!" }] }),
        ["attachments.0.content"],
      ],
      [
        minimal({ attachments: [{ contentType: "text/plain", content: "aGk=" }] }),
        ["attachments.0.filename"],
      ],
      [
        minimal({ attachments: [{ filename: "a", contentType: "text", content: "aGk=" }] }),
        ["attachments.0.contentType"],
      ],
      [
        minimal({
          attachments: [{ filename: "a", contentType: "text/plain", content: "aGk=", cid: "<x>" }],
        }),
        ["attachments.0.cid"],
      ],
      [minimal({ bc: ["typo@example.net"] }), ["bc"]],
      // Several bad fields: all named at once.
      [{ to: [], subject: 5, html: 7 }, ["to", "subject", "html"]],
    ];
    for (const [payload, paths] of cases) {
      const response = await submit(payload);
      expect(response.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
      const problem = response.json();
      expect(problem).toMatchObject({ status: 400, code: "validation_failed" });
      expect(typeof problem.title).toBe("string");
      expect(problem.detail).toContain(paths[0]);
      expect(problem.errors.map((e: { path: string }) => e.path).sort()).toEqual(
        expect.arrayContaining([...paths].sort()),
      );
      for (const error of problem.errors) expect(error.message).toEqual(expect.any(String));
    }
    for (const key of ["k".repeat(256), "tab\there"]) {
      const response = await submit(minimal(), { "idempotency-key": key });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0].path).toBe("headers.idempotency-key");
    }
    expect([await count("messages"), await count("outbound_messages")]).toEqual(before);
  });

  test("allowed headers and a 998-character subject are accepted", async () => {
    const response = await submit(
      minimal({
        subject: "s".repeat(998),
        html: "<p>only html too</p>",
        text: undefined,
        headers: {
          "x-lower-case": "1",
          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
          References: "<a@example.com> <b@example.com>",
        },
      }),
    );
    expect(response.statusCode).toBe(202);
    const parsed = await simpleParser(await storedBody(response.json().id));
    expect(parsed.subject).toBe("s".repeat(998));
    expect(parsed.headers.get("x-lower-case")).toBe("1");
    expect(parsed.references).toEqual(["<a@example.com>", "<b@example.com>"]);
  });

  test("413 when the composed message or the body is over the limit; nothing written", async () => {
    const before = await count("messages");
    // 60 KiB of attachment: the JSON body fits the HTTP limit, the composed message does not.
    const big = Buffer.alloc(60 * 1024, 7).toString("base64");
    const composed = await submit(
      minimal({
        attachments: [
          { filename: "big.bin", contentType: "application/octet-stream", content: big },
        ],
      }),
    );
    expect(composed.statusCode).toBe(413);
    expect(composed.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(composed.json()).toMatchObject({ status: 413, code: "message_too_large" });
    // Over the body limit (4/3 of the message limit plus room): refused before parsing.
    const body = await submit(minimal({ text: "x".repeat(200 * 1024) }));
    expect(body.statusCode).toBe(413);
    expect(body.json().code).toBe("message_too_large");
    expect(await count("messages")).toBe(before);
  });

  test("415 for anything but JSON, 400 for broken JSON, 401 before either", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
      const response = await api.app.inject({
        method: "POST",
        url: "/v1/messages",
        headers: { ...bearer(token), "content-type": type },
        payload: "to=ann@example.net",
      });
      expect(response.statusCode, type).toBe(415);
      expect(response.json()).toMatchObject({ status: 415, code: "unsupported_media_type" });
    }
    const broken = await api.app.inject({
      method: "POST",
      url: "/v1/messages",
      headers: { ...bearer(token), "content-type": "application/json" },
      payload: '{"to": [',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().code).toBe("malformed_json");
    const anonymous = await api.app.inject({
      method: "POST",
      url: "/v1/messages",
      headers: { "content-type": "text/plain" },
      payload: "x",
    });
    expect(anonymous.statusCode).toBe(401);
  });

  test("Idempotency-Key: replay byte for byte, 409 with another request, per mailbox", async () => {
    const key = `order-${Math.random()}`;
    const payload = minimal({ subject: "Idempotent", cc: ["cc@example.net"] });
    const first = await submit(payload, { "idempotency-key": key });
    expect(first.statusCode).toBe(202);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const messages = await count("messages");
    const rows = await count("outbound_messages");

    // Same request, keys in another order: the same request.
    const reordered = Object.fromEntries(Object.entries(payload).reverse());
    const replay = await submit(reordered, { "idempotency-key": key });
    expect(replay.statusCode).toBe(202);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.rawPayload.equals(first.rawPayload)).toBe(true);
    expect(replay.headers.location).toBe(first.headers.location);
    expect(replay.headers["content-type"]).toBe(first.headers["content-type"]);

    const reused = await submit(minimal({ subject: "Something else" }), { "idempotency-key": key });
    expect(reused.statusCode).toBe(409);
    expect(reused.json()).toMatchObject({ status: 409, code: "idempotency_key_reused" });
    expect([await count("messages"), await count("outbound_messages")]).toEqual([messages, rows]);

    // The same key for another mailbox is another key.
    const other = await api.mailbox();
    const otherResponse = await api.app.inject({
      method: "POST",
      url: "/v1/messages",
      headers: { ...bearer(await api.token(other)), "idempotency-key": key },
      payload,
    });
    expect(otherResponse.statusCode).toBe(202);
    expect(otherResponse.json().id).not.toBe(first.json().id);
  });

  test("concurrent duplicates with one key create one message", async () => {
    const key = `race-${Math.random()}`;
    const before = await count("messages");
    const payload = minimal({ subject: "Race" });
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => submit(payload, { "idempotency-key": key })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(202));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses.filter((r) => r.headers["idempotent-replayed"] === "true")).toHaveLength(7);
    expect(await count("messages")).toBe(before + 1);
  });

  test("logs: one line per request with route, status and mailbox; no token, address or body", async () => {
    api.logs.length = 0;
    await submit(
      minimal({ to: ["private.person@secret-domain.example"], subject: "Confidential" }),
    );
    const text = api.logs.join("");
    const line = api.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "request");
    expect(line).toMatchObject({ method: "POST", route: "/v1/messages", status: 202, mailboxId });
    expect(typeof line.durationMs).toBe("number");
    expect(line.reqId).toEqual(expect.anything());
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split(".")[2]);
    expect(text).not.toContain("private.person");
    expect(text).not.toContain("Confidential");
    expect(text).not.toContain("Ops@Example.COM");
  });
});
