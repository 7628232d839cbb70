import { CRYPTO_ERRORS, ERROR_CODES } from "@imap-proxy/errors";
import { expect, test } from "vitest";
import { PROBLEMS } from "../src/problems.ts";

test("every problem code the API answers is a registry code, with the registry's one meaning", () => {
  const outside = Object.keys(PROBLEMS).filter((code) => !(code in ERROR_CODES));
  expect(outside).toEqual([]);
  // RFC 6750's `invalid_token` is the API's; the Fernet failure has its own code.
  expect(ERROR_CODES.invalid_token).toMatch(/bearer token/);
  expect(Object.keys(CRYPTO_ERRORS)).not.toContain("invalid_token");
});
