import { expect, test } from "vitest";
import { uuidv7 } from "../src/ids.ts";

test("uuidv7: version 7, in creation order, random bits never reused across pool refills", () => {
  const now = Date.now();
  // 600 ids in one millisecond: the sequence orders them, and the random pool (256 ids) refills twice.
  const ids = Array.from({ length: 600 }, () => uuidv7(now));
  for (const id of ids)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(ids.toSorted()).toEqual(ids);
  expect(new Set(ids.map((id) => id.slice(-12))).size).toBe(ids.length);
});
