import { randomUUID } from "node:crypto";
import { hmacKeyFromSecret, issueToken } from "@imap-proxy/auth";
import { expect, test } from "vitest";
import { VerifiedTokens } from "../src/auth.ts";
import { JWT_SECRET } from "./helpers.ts";

test("a verified token is served from memory until its exp, then verified again and refused", async () => {
  const config = {
    algorithm: "HS256" as const,
    key: await hmacKeyFromSecret(JWT_SECRET),
    issuer: "imap-proxy",
    audience: "imap-proxy",
  };
  const issuedAt = Math.floor(Date.now() / 1000);
  const { token, exp } = await issueToken(config, {
    mailboxId: randomUUID(),
    permissions: ["messages:send"],
    expiresIn: "5s",
    now: issuedAt,
  });
  let now = issuedAt * 1000;
  const tokens = new VerifiedTokens(config, 60_000, () => now);
  const first = await tokens.verify(token);
  now += 1000;
  expect(await tokens.verify(token)).toBe(first);
  // Past exp and the verifier's 30 s clock tolerance, well inside the cache's minute.
  now = (exp + 31) * 1000;
  await expect(tokens.verify(token)).rejects.toMatchObject({ code: "token_expired" });
  await expect(tokens.verify(`${token}x`)).rejects.toMatchObject({ code: "bad_signature" });
});
