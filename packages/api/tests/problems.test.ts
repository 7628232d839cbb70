import { CRYPTO_ERRORS, ERROR_CODES } from "@imap-proxy/errors";
import { expect, test } from "vitest";
import { PROBLEMS } from "../src/problems.ts";
import { openTestApi } from "./helpers.ts";

test("every problem code the API answers is a registry code, with the registry's one meaning", () => {
  const outside = Object.keys(PROBLEMS).filter((code) => !(code in ERROR_CODES));
  expect(outside).toEqual([]);
  // RFC 6750's `invalid_token` is the API's; the Fernet failure has its own code.
  expect(ERROR_CODES.invalid_token).toMatch(/bearer token/);
  expect(Object.keys(CRYPTO_ERRORS)).not.toContain("invalid_token");
});

test("a lost database is a 503 problem with Retry-After, not a 500", async () => {
  const api = await openTestApi();
  const mailboxId = await api.mailbox();
  const token = await api.token(mailboxId, ["messages:send"]);
  await api.database.close();
  try {
    const response = await api.app.inject({
      method: "GET",
      url: `/v1/messages/${"0".repeat(8)}-0000-7000-8000-${"0".repeat(12)}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("5");
    expect(response.json()).toMatchObject({ code: "database_unavailable", status: 503 });
  } finally {
    await api.app.close();
  }
});
