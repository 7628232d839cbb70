import { expect, test } from "vitest";
import { credentialScrubber, hasUnsafeCharacters, printable, quoted } from "../src/index.ts";

const UNSAFE = [
  "\u0000",
  "\t",
  "\n",
  "\r",
  "\u001b",
  "\u007f",
  "\u0085",
  "\u009b",
  "\u061c",
  "\u200e",
  "\u200f",
  "\u202a",
  "\u202e",
  "\u2066",
  "\u2069",
];

test("every C0/C1 control, DEL and bidi control is unsafe; ordinary text is not", () => {
  for (const char of UNSAFE) expect(hasUnsafeCharacters(`a${char}b`), escape(char)).toBe(true);
  for (const text of ["ops@example.com", "Ünïcødé ✉ 🔑", "a b", "עברית"])
    expect(hasUnsafeCharacters(text)).toBe(false);
});

test("quoted and printable never let a control character through", () => {
  const input = "\u001b]0;pwned\u0007x\u009b2J\u202eevil\u007f";
  const out = quoted(input);
  expect(out).toBe('"\\u001b]0;pwned\\u0007x\\u009b2J\\u202eevil\\u007f"');
  expect(hasUnsafeCharacters(out)).toBe(false);
  expect(printable("line\r\nnext")).toBe("line\\u000d\\u000anext");
});

test("credentialScrubber removes the password and the AUTH PLAIN/LOGIN forms of it", () => {
  const scrub = credentialScrubber({ username: "user", password: "S3cret!" });
  const plain = Buffer.from("\u0000user\u0000S3cret!").toString("base64");
  const login = Buffer.from("S3cret!").toString("base64");
  expect(scrub(`535 bad S3cret! ${plain} ${login} end`)).toBe("535 bad *** *** *** end");
});
