import { sql } from "drizzle-orm";
import type { QueueClock } from "./types.ts";

/**
 * "Now" inside SQL: the injected clock in tests, else the database's own clock, so every host
 * agrees on due times and lease ages (and rows created by `DEFAULT now()` compare exactly).
 */
export function sqlNow(clock: QueueClock | undefined) {
  const injected = clock?.now?.();
  return injected === undefined ? sql`now()` : sql`${injected.toISOString()}::timestamptz`;
}
