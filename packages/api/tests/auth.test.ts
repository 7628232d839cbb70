import { SignJWT } from "jose";
import { deleteMailbox } from "@imap-proxy/db";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type TestApi, bearer, minimal, openTestApi } from "./helpers.ts";

let api: TestApi;
let mailboxId: string;
let otherMailboxId: string;
let messageId: string;

beforeAll(async () => {
  api = await openTestApi();
  mailboxId = await api.mailbox();
  otherMailboxId = await api.mailbox();
  const created = await api.app.inject({
    method: "POST",
    url: "/v1/messages",
    headers: bearer(await api.token(mailboxId)),
    payload: minimal(),
  });
  messageId = created.json().id;
});
afterAll(async () => {
  await api?.close();
});

type Call = { method: "GET" | "POST"; url: () => string; payload?: object };
const SUBMIT: Call = { method: "POST", url: () => "/v1/messages", payload: minimal() };
const GET_ONE: Call = { method: "GET", url: () => `/v1/messages/${messageId}` };
const LIST: Call = { method: "GET", url: () => "/v1/messages" };

const call = (c: Call, headers: Record<string, string>) =>
  api.app.inject({
    method: c.method,
    url: c.url(),
    headers,
    ...(c.payload ? { payload: c.payload } : {}),
  });

function expectInvalidToken(response: Awaited<ReturnType<typeof call>>) {
  expect(response.statusCode).toBe(401);
  expect(response.headers["www-authenticate"]).toMatch(/^Bearer .*error="invalid_token"/);
  expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(response.json()).toMatchObject({ status: 401, code: "invalid_token" });
}

describe("RFC 6750 bearer auth", () => {
  test("missing, malformed, badly signed, expired or foreign tokens → 401 invalid_token", async () => {
    const good = await api.token(mailboxId);
    const [header, payload] = good.split(".");
    const forged = await new SignJWT({ scope: "messages:send" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("imap-proxy")
      .setAudience("imap-proxy")
      .setSubject(mailboxId)
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
    const expired = await new SignJWT({ scope: "messages:send" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("imap-proxy")
      .setAudience("imap-proxy")
      .setSubject(mailboxId)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(api.signer.key);
    const wrongAudience = await new SignJWT({ scope: "messages:send" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("imap-proxy")
      .setAudience("someone-else")
      .setSubject(mailboxId)
      .setExpirationTime("1h")
      .sign(api.signer.key);
    const cases: Record<string, string>[] = [
      {},
      { authorization: "" },
      { authorization: good },
      { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` },
      { authorization: "Bearer not.a.jwt" },
      { authorization: `Bearer ${header}.${payload}.` },
      { authorization: `Bearer ${forged}` },
      { authorization: `Bearer ${expired}` },
      { authorization: `Bearer ${wrongAudience}` },
    ];
    for (const c of [SUBMIT, GET_ONE, LIST]) {
      for (const headers of cases) {
        const response = await call(c, headers);
        expectInvalidToken(response);
        // The problem never echoes a token.
        expect(response.body).not.toContain(payload);
      }
    }
  });

  test("scopes: send submits and reads; read only reads; others 403 insufficient_scope", async () => {
    const send = await api.token(mailboxId, ["messages:send"]);
    const read = await api.token(mailboxId, ["messages:read"]);
    const modify = await api.token(mailboxId, ["messages:modify", "mailboxes:read"]);
    const matrix: [string, Call, number][] = [
      [send, SUBMIT, 202],
      [send, GET_ONE, 200],
      [send, LIST, 200],
      [read, SUBMIT, 403],
      [read, GET_ONE, 200],
      [read, LIST, 200],
      [modify, SUBMIT, 403],
      [modify, GET_ONE, 403],
      [modify, LIST, 403],
    ];
    for (const [token, c, status] of matrix) {
      const response = await call(c, bearer(token));
      expect(response.statusCode, `${c.method} ${c.url()}`).toBe(status);
      if (status === 403) {
        expect(response.json()).toMatchObject({ status: 403, code: "insufficient_scope" });
        expect(response.headers["www-authenticate"]).toMatch(/error="insufficient_scope"/);
      }
    }
  });

  test("a legacy messages:create token → 403 permission_renamed", async () => {
    const legacy = await api.token(mailboxId, ["messages:create"]);
    const response = await call(SUBMIT, bearer(legacy));
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: "permission_renamed" });
    expect(response.json().detail).toContain("messages:send");
  });

  test("mailboxes: another mailbox's message is 404; a deleted mailbox's token is 401", async () => {
    const other = await api.token(otherMailboxId, ["messages:send", "messages:read"]);
    const response = await call(GET_ONE, bearer(other));
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ status: 404, code: "not_found" });
    const list = await call(LIST, bearer(other));
    expect(list.json().data).toEqual([]);

    const doomed = await api.mailbox();
    const token = await api.token(doomed, ["messages:send"]);
    await deleteMailbox(api.database.db, doomed);
    for (const c of [SUBMIT, GET_ONE, LIST]) expectInvalidToken(await call(c, bearer(token)));
  });

  test("a mailbox deleted after its address was cached: the submit writes nothing, 401", async () => {
    const doomed = await api.mailbox();
    const token = await api.token(doomed, ["messages:send"]);
    expect((await call(LIST, bearer(token))).statusCode).toBe(200);
    await deleteMailbox(api.database.db, doomed);
    expectInvalidToken(await call(SUBMIT, bearer(token)));
  });
});
