import { expect, test } from "vitest";
import { composeMessage } from "../src/compose.ts";

test("the stored message has CRLF line breaks only, whatever the text's own line breaks", async () => {
  const { raw } = await composeMessage(
    { to: ["a@example.net"], subject: "Lines", text: "one\ntwo\rthree\r\n.\nafter a dot line" },
    { email: "ops@example.com", messageIdHeader: "<1@example.com>", date: new Date(0) },
  );
  const text = raw.toString("latin1");
  // What nodemailer's DATA stream would send for these bytes is these bytes.
  expect(text).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
  expect(text).toContain("\r\n\r\none\r\ntwo\r\nthree\r\n.\r\nafter a dot line");
});
