import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { InvalidTrackingSecretError, TrackingKeys, type TrackingTarget } from "../src/index.ts";

const OLD = "old-secret-old-secret-old-secret-0001";
const NEW = "new-secret-new-secret-new-secret-0002";

describe("TrackingKeys", () => {
  const recipientId = randomUUID();
  const open: TrackingTarget = { kind: "open", recipientId };
  const click: TrackingTarget = { kind: "click", recipientId, link: 513 };

  it("signs and verifies opens and clicks; tokens are short and URL-safe", () => {
    const keys = TrackingKeys.parse(NEW);
    const openToken = keys.sign(open);
    const clickToken = keys.sign(click);
    expect(openToken).toMatch(/^[A-Za-z0-9_-]{44}$/);
    expect(clickToken).toMatch(/^[A-Za-z0-9_-]{47}$/);
    expect(keys.verify(openToken)).toEqual(open);
    expect(keys.verify(clickToken)).toEqual(click);
  });

  it("refuses every altered token: each character changed, truncated, extended, re-kinded", () => {
    const keys = TrackingKeys.parse(NEW);
    for (const token of [keys.sign(open), keys.sign(click)]) {
      for (let index = 0; index < token.length; index += 1) {
        const replacement = token[index] === "A" ? "B" : "A";
        expect(
          keys.verify(token.slice(0, index) + replacement + token.slice(index + 1)),
        ).toBeUndefined();
      }
      expect(keys.verify(token.slice(0, -1))).toBeUndefined();
      expect(keys.verify(`${token}A`)).toBeUndefined();
      expect(keys.verify(`${token}==`)).toBeUndefined();
    }
    // An open token with a link index appended, or a click token's kind byte flipped, is forged.
    const bytes = Buffer.from(keys.sign(click), "base64url");
    bytes[0] = 1;
    expect(keys.verify(bytes.toString("base64url"))).toBeUndefined();
    for (const junk of ["", "x", "../../etc/passwd", "%00", "A".repeat(10_000)]) {
      expect(keys.verify(junk)).toBeUndefined();
    }
  });

  it("refuses a token signed with a secret it does not hold", () => {
    const forged = TrackingKeys.parse("attacker-attacker-attacker-attacker").sign(click);
    expect(TrackingKeys.parse(NEW).verify(forged)).toBeUndefined();
  });

  it("rotates like FERNET_KEY: the first secret signs, every listed secret verifies", () => {
    const before = TrackingKeys.parse(OLD).sign(click);
    const rotating = TrackingKeys.parse(`${NEW}, ${OLD}`);
    expect(rotating.verify(before)).toEqual(click);
    const after = rotating.sign(click);
    expect(TrackingKeys.parse(NEW).verify(after)).toEqual(click);
    expect(TrackingKeys.parse(OLD).verify(after)).toBeUndefined();
    // Once the old secret is dropped, its tokens stop working.
    expect(TrackingKeys.parse(NEW).verify(before)).toBeUndefined();
  });

  it("rejects short or empty secrets without echoing them", () => {
    const attempts: Array<[string, RegExp]> = [
      ["short-secret", /^TRACKING_SECRET is too short/],
      [`${NEW},,${OLD}`, /^TRACKING_SECRET secret #2 is empty/],
      [`${NEW},tiny`, /^TRACKING_SECRET secret #2 is too short/],
    ];
    for (const [text, message] of attempts) {
      let caught: unknown;
      try {
        TrackingKeys.parse(text);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidTrackingSecretError);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain("tiny");
      expect((caught as Error).message).not.toContain("short-secret");
    }
  });

  it("refuses to sign what a token cannot carry", () => {
    const keys = TrackingKeys.parse(NEW);
    expect(() => keys.sign({ kind: "open", recipientId: "not-a-uuid" })).toThrow(TypeError);
    expect(() => keys.sign({ kind: "click", recipientId, link: 65_536 })).toThrow(RangeError);
  });
});
