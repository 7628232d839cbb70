import SwaggerParser from "@apidevtools/swagger-parser";
import { sql } from "@imap-proxy/db";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type TestApi, bearer, minimal, openTestApi } from "./helpers.ts";

let api: TestApi;
let mailboxId: string;
let token: string;

beforeAll(async () => {
  api = await openTestApi({ rateLimitPerSecond: 1, rateLimitBurst: 1000 });
  mailboxId = await api.mailbox();
  token = await api.token(mailboxId, ["messages:send"]);
});
afterAll(async () => {
  await api?.close();
});

const submit = async (payload: object) => {
  const response = await api.app.inject({
    method: "POST",
    url: "/v1/messages",
    headers: bearer(token),
    payload,
  });
  expect(response.statusCode).toBe(202);
  return response.json<{ id: string; messageId: string; recipients: { id: string }[] }>();
};

const get = (url: string, auth = token) =>
  api.app.inject({ method: "GET", url, headers: bearer(auth) });

describe("reading status", () => {
  test("GET /v1/messages/{id}: per-recipient status in submission order", async () => {
    const created = await submit(
      minimal({
        to: ["b@example.net", "a@example.net"],
        bcc: ["c@example.net"],
        subject: "Status",
      }),
    );
    const response = await get(`/v1/messages/${created.id}`);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ id: created.id, messageId: created.messageId, subject: "Status" });
    expect(new Date(body.createdAt).getTime()).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(body.recipients.map((r: { email: string }) => r.email)).toEqual([
      "b@example.net",
      "a@example.net",
      "c@example.net",
    ]);
    expect(body.recipients[0]).toEqual({
      id: created.recipients[0]!.id,
      email: "b@example.net",
      status: "queued",
      attempts: 0,
      nextRetryAt: null,
      sentAt: null,
      openedAt: null,
      clickedAt: null,
      error: null,
      smtpReply: null,
      reports: [],
      events: { opens: { human: 0, bot: 0, proxy: 0 }, clicks: { human: 0, bot: 0, proxy: 0 } },
    });

    // What the worker and tracking record shows up.
    const sentAt = "2026-01-02T03:04:05.000Z";
    const openedAt = "2026-01-02T04:00:00.000Z";
    await api.database.db.execute(sql`
      UPDATE outbound_messages SET status = 'processing', attempts = 1,
        processing_started_at = now(), lease_renewed_at = now(), lease_owner = 't' WHERE id = ${created.recipients[1]!.id}::uuid`);
    await api.database.db.execute(sql`
      UPDATE outbound_messages SET status = 'sent', sent_at = ${sentAt}::timestamptz,
        opened_at = ${openedAt}::timestamptz, processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
      WHERE id = ${created.recipients[1]!.id}::uuid`);
    const after = (await get(`/v1/messages/${created.id}`)).json();
    expect(after.recipients[1]).toMatchObject({ status: "sent", attempts: 1, sentAt, openedAt });

    // A failure shows its code and the server's reply on one line, never the error log.
    const failed = created.recipients[2]!.id;
    await api.database.db.execute(sql`
      UPDATE outbound_messages SET status = 'processing', attempts = 1,
        processing_started_at = now(), lease_renewed_at = now(), lease_owner = 't' WHERE id = ${failed}::uuid`);
    await api.database.db.execute(sql`
      UPDATE outbound_messages SET status = 'failed', error_code = 'recipient_rejected',
        smtp_reply_code = 550, smtp_enhanced_status = '5.1.1',
        smtp_reply = ${"550-5.1.1 No such user\r\n550 5.1.1 here"}, error_log = 'internal log line',
        processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
      WHERE id = ${failed}::uuid`);
    // A paused mailbox shows on the recipients still waiting.
    await api.database.db.execute(sql`
      UPDATE mailboxes SET pause_reason = 'auth_failed', paused_at = now(),
        pause_detail = '535 5.7.8 Authentication failed' WHERE id = ${mailboxId}::uuid`);
    const withErrors = (await get(`/v1/messages/${created.id}`)).json();
    await api.database.db.execute(sql`
      UPDATE mailboxes SET pause_reason = NULL, paused_at = NULL, pause_detail = NULL
      WHERE id = ${mailboxId}::uuid`);
    expect(withErrors.recipients[2].error).toEqual({
      code: "recipient_rejected",
      message: "550-5.1.1 No such user 550 5.1.1 here",
    });
    expect(JSON.stringify(withErrors)).not.toContain("internal log line");
    expect(withErrors.recipients[0].error).toEqual({
      code: "auth_failed",
      message: "Sending from this mailbox is paused (auth_failed): 535 5.7.8 Authentication failed",
    });
    expect(withErrors.recipients[1].error).toBeNull();
    expect(withErrors.recipients[2].smtpReply).toEqual({
      code: 550,
      enhancedStatus: "5.1.1",
      text: "550-5.1.1 No such user 550 5.1.1 here",
    });

    // A bounce read later from the mailbox shows beside the original SMTP reply.
    await api.database.db.execute(sql`
      UPDATE outbound_messages SET smtp_reply_code = 250, smtp_reply = '250 2.0.0 Ok: queued as 4XyZ'
      WHERE id = ${created.recipients[1]!.id}::uuid`);
    await api.database.db.execute(sql`
      INSERT INTO delivery_reports (outbound_message_id, kind, action, status, diagnostic_code,
                                    reporting_mta, remote_mta, folder, uid_validity, uid)
      VALUES (${created.recipients[1]!.id}::uuid, 'delay', 'delayed', '4.4.1', 'smtp; 421 try later',
              'dns; mx.example.com', 'dns; mx.example.net', 'INBOX', 7, 3)`);
    const reported = (await get(`/v1/messages/${created.id}`)).json().recipients[1];
    expect(reported.smtpReply).toEqual({
      code: 250,
      enhancedStatus: null,
      text: "250 2.0.0 Ok: queued as 4XyZ",
    });
    expect(reported.reports).toEqual([
      {
        kind: "delay",
        action: "delayed",
        status: "4.4.1",
        diagnosticCode: "smtp; 421 try later",
        reportingMta: "dns; mx.example.com",
        remoteMta: "dns; mx.example.net",
        receivedAt: expect.stringMatching(/^\d{4}-/),
      },
    ]);

    expect((await get(`/v1/messages/00000000-0000-4000-8000-000000000000`)).statusCode).toBe(404);
    const malformed = await get(`/v1/messages/not-a-uuid`);
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().errors[0].path).toBe("params.id");
  });

  test("GET /v1/messages: newest first, keyset pages, status filter", async () => {
    const reader = await api.mailbox();
    const readerToken = await api.token(reader, ["messages:send", "messages:read"]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await api.app.inject({
        method: "POST",
        url: "/v1/messages",
        headers: bearer(readerToken),
        payload: minimal({ subject: `m${i}` }),
      });
      ids.push(response.json().id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/messages?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = (await get(url, readerToken)).json();
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((m: { id: string }) => m.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(seen).toEqual([...ids].reverse());

    await api.database.db.execute(sql`
      UPDATE outbound_messages SET status = 'processing', attempts = 1, processing_started_at = now(), lease_renewed_at = now(),
        lease_owner = 't' WHERE message_id = ${ids[1]}::uuid`);
    const processing = (await get("/v1/messages?status=processing", readerToken)).json();
    expect(processing.data.map((m: { id: string }) => m.id)).toEqual([ids[1]]);
    expect(processing.nextCursor).toBeNull();

    for (const [query, path] of [
      ["limit=0", "query.limit"],
      ["limit=101", "query.limit"],
      ["status=delivered", "query.status"],
      ["cursor=bm9wZQ", "query.cursor"],
    ]) {
      const response = await get(`/v1/messages?${query}`, readerToken);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().errors[0].path).toBe(path);
    }
  });
});

describe("protection", () => {
  test("per-token rate limit → 429 problem with Retry-After; other tokens unaffected", async () => {
    const limited = await openTestApi({ rateLimitPerSecond: 1, rateLimitBurst: 3 }, api.database);
    try {
      const first = await api.token(mailboxId, ["messages:read"]);
      const second = await api.token(mailboxId, ["messages:read"]);
      const statuses: number[] = [];
      const list = () =>
        limited.app.inject({ method: "GET", url: "/v1/messages", headers: bearer(first) });
      for (let i = 0; i < 3; i++) statuses.push((await list()).statusCode);
      const last = await list();
      statuses.push(last.statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(Number(last.headers["retry-after"])).toBeGreaterThan(0);
      expect(last.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(last.json()).toMatchObject({ status: 429, code: "rate_limited" });
      const other = await limited.app.inject({
        method: "GET",
        url: "/v1/messages",
        headers: bearer(second),
      });
      expect(other.statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  test("unknown routes are problems too; /healthz answers", async () => {
    const missing = await api.app.inject({ method: "GET", url: "/v2/nothing" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ status: 404, code: "not_found" });
    const health = await api.app.inject({ method: "GET", url: "/healthz" });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: "ok" });
  });

  test("the OpenAPI 3.1 document validates and lists every route", async () => {
    const response = await api.app.inject({ method: "GET", url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.openapi).toMatch(/^3\.1\./);
    await SwaggerParser.validate(structuredClone(document));
    const documented = Object.entries(document.paths as Record<string, object>).flatMap(
      ([path, operations]) => Object.keys(operations).map((m) => `${m.toUpperCase()} ${path}`),
    );
    for (const operation of documented) {
      const [method, path] = operation.split(" ") as [string, string];
      const url = path.replace("{id}", ":id").replace("{token}", ":token");
      expect(api.app.hasRoute({ method: method, url }), operation).toBe(true);
    }
    expect(documented.sort()).toEqual(
      [
        "GET /healthz",
        "GET /openapi.json",
        "POST /v1/messages",
        "GET /v1/messages",
        "GET /v1/messages/{id}",
        "POST /v1/messages/{id}/retry",
        "GET /v1/messages/{id}/events",
        "GET /t/o/{token}",
        "GET /t/c/{token}",
      ].sort(),
    );
    const submit = document.paths["/v1/messages"].post;
    expect(Object.keys(submit.responses).sort()).toEqual(
      ["202", "400", "401", "403", "409", "413", "415", "429"].sort(),
    );
    expect(submit.requestBody.content["application/json"].schema).toBeDefined();
    expect(
      submit.parameters.some((p: { name: string; in: string }) => p.name === "idempotency-key"),
    ).toBe(true);
  });
});
