import { expect, test } from "vitest";
import {
  API_ERRORS,
  AUTH_ERRORS,
  CLI_ERRORS,
  CONNECTION_ERRORS,
  CRYPTO_ERRORS,
  CodedError,
  DATABASE_ERRORS,
  ERROR_CODES,
  GENERAL_ERRORS,
  IMAP_ERRORS,
  TLS_ERRORS,
  TRACKING_ERRORS,
  isCodedError,
} from "../src/index.ts";

test("no code is defined twice (a spread would silently keep only one meaning)", () => {
  const imapOwn = Object.keys(IMAP_ERRORS).filter((code) => !(code in CONNECTION_ERRORS));
  const groups = [
    GENERAL_ERRORS,
    DATABASE_ERRORS,
    CRYPTO_ERRORS,
    AUTH_ERRORS,
    CONNECTION_ERRORS,
    TRACKING_ERRORS,
    TLS_ERRORS,
    API_ERRORS,
    CLI_ERRORS,
  ].map((group) => Object.keys(group));
  const all = [...groups.flat(), ...imapOwn];
  expect(new Set(all).size).toBe(all.length);
  expect(Object.keys(ERROR_CODES).sort()).toEqual([...all].sort());
});

test("codes are snake_case and every one has a meaning", () => {
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(meaning.length).toBeGreaterThan(10);
  }
});

test("a subclass is recognised by its code, not its name", () => {
  class SomeError extends CodedError<"not_found"> {
    override readonly name = "AnythingAtAll";
  }
  const error: unknown = new SomeError("not_found", "No mailbox matches x.");
  expect(isCodedError(error)).toBe(true);
  expect(isCodedError(Object.assign(new Error("x"), { code: "not_found" }))).toBe(false);
  expect((error as CodedError).code).toBe("not_found");
});
