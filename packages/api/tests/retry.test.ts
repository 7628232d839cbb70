import { rowsOf, sql } from "@imap-proxy/db";
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

async function submit(to: string[]) {
  const response = await api.app.inject({
    method: "POST",
    url: "/v1/messages",
    headers: bearer(token),
    payload: minimal({ to }),
  });
  expect(response.statusCode).toBe(202);
  return response.json<{ id: string; recipients: { id: string }[] }>();
}

/** What the worker leaves behind: sent, failed with a code, or failed with the outcome unknown. */
async function finish(id: string, end: "sent" | "failed" | "outcome_unknown") {
  const { db } = api.database;
  await db.execute(sql`
    UPDATE outbound_messages SET status = 'processing', attempts = attempts + 1,
      processing_started_at = now(), lease_renewed_at = now(), lease_owner = 't',
      data_started_at = CASE WHEN ${end !== "failed"} THEN now() END
    WHERE id = ${id}::uuid`);
  await db.execute(sql`
    UPDATE outbound_messages SET status = ${end === "sent" ? "sent" : "failed"},
      sent_at = CASE WHEN ${end === "sent"} THEN now() END,
      error_code = ${end === "sent" ? null : end === "failed" ? "message_rejected" : "outcome_unknown"},
      processing_started_at = NULL, lease_renewed_at = NULL, lease_owner = NULL
    WHERE id = ${id}::uuid`);
}

async function rows(messageId: string) {
  return rowsOf<{
    id: string;
    status: string;
    error_code: string | null;
    data_started: boolean;
    due_now: boolean;
    error_log: string | null;
  }>(
    await api.database.db.execute(sql`
      SELECT id, status, error_code, data_started_at IS NOT NULL AS data_started,
             next_retry_at IS NULL AS due_now, error_log
      FROM outbound_messages WHERE message_id = ${messageId}::uuid ORDER BY created_at, id`),
  );
}

const retry = (id: string, query = "", auth = token) =>
  api.app.inject({
    method: "POST",
    url: `/v1/messages/${id}/retry${query}`,
    headers: auth === "" ? {} : bearer(auth),
  });

describe("POST /v1/messages/{id}/retry", () => {
  test("queues the failed and outcome_unknown recipients again, due now; sent ones stay sent", async () => {
    const created = await submit(["a@example.net", "b@example.net", "c@example.net"]);
    const [a, b, c] = created.recipients.map((r) => r.id) as [string, string, string];
    await finish(a, "sent");
    await finish(b, "failed");
    await finish(c, "outcome_unknown");

    const response = await retry(created.id);
    expect(response.statusCode).toBe(202);
    expect(response.headers.location).toBe(`/v1/messages/${created.id}`);
    const body = response.json<{ id: string; queued: string[] }>();
    expect(body.id).toBe(created.id);
    expect(body.queued.toSorted()).toEqual([b, c].toSorted());

    const after = new Map((await rows(created.id)).map((row) => [row.id, row]));
    expect(after.get(a)).toMatchObject({ status: "sent" });
    for (const id of [b, c]) {
      expect(after.get(id)).toMatchObject({
        status: "queued",
        error_code: null,
        data_started: false,
        due_now: true,
      });
      expect(after.get(id)!.error_log).toMatch(/queued again by an operator/);
    }

    // Once queued, a second retry finds nothing failed: 409, nothing changed.
    const again = await retry(created.id);
    expect(again.statusCode).toBe(409);
    expect(again.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(again.json()).toMatchObject({ code: "invalid_transition", status: 409 });
    expect(again.json().detail).toContain(`${b} is queued`);
  });

  test("?recipient= queues only that recipient", async () => {
    const created = await submit(["a@example.net", "b@example.net"]);
    const [a, b] = created.recipients.map((r) => r.id) as [string, string];
    await finish(a, "outcome_unknown");
    await finish(b, "outcome_unknown");

    const response = await retry(created.id, `?recipient=${b}`);
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ id: created.id, queued: [b] });
    const after = new Map((await rows(created.id)).map((row) => [row.id, row]));
    expect(after.get(a)).toMatchObject({ status: "failed", error_code: "outcome_unknown" });
    expect(after.get(b)).toMatchObject({ status: "queued", error_code: null });

    // A recipient of another message of the same mailbox is not this message's.
    const other = await submit(["x@example.net"]);
    await finish(other.recipients[0]!.id, "failed");
    const foreign = await retry(created.id, `?recipient=${other.recipients[0]!.id}`);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe("not_found");
    expect((await rows(other.id))[0]).toMatchObject({ status: "failed" });
  });

  test("another mailbox's message is not found, and nothing of it changes", async () => {
    const created = await submit(["a@example.net"]);
    await finish(created.recipients[0]!.id, "failed");
    const stranger = await api.token(await api.mailbox(), ["messages:send"]);
    const response = await retry(created.id, "", stranger);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: "not_found", status: 404 });
    expect((await rows(created.id))[0]).toMatchObject({ status: "failed" });
  });

  test("auth and input errors are problems, writing nothing", async () => {
    const created = await submit(["a@example.net"]);
    await finish(created.recipients[0]!.id, "failed");

    const anonymous = await retry(created.id, "", "");
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toContain('error="invalid_token"');

    const reader = await api.token(mailboxId, ["messages:read"]);
    const readOnly = await retry(created.id, "", reader);
    expect(readOnly.statusCode).toBe(403);
    expect(readOnly.json().code).toBe("insufficient_scope");

    const badId = await retry("not-a-uuid");
    expect(badId.statusCode).toBe(400);
    expect(badId.json().errors[0].path).toBe("params.id");
    const badRecipient = await retry(created.id, "?recipient=nope");
    expect(badRecipient.statusCode).toBe(400);
    expect(badRecipient.json().errors[0].path).toBe("query.recipient");

    expect((await rows(created.id))[0]).toMatchObject({ status: "failed" });
  });
});
