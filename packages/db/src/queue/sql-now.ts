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

/**
 * Marks a row changed, exactly as the updated_at trigger would. The hot statements (claim,
 * renewal, DATA marker, finishes) say it themselves: the trigger's WHEN then skips its function
 * call for every row (migration 0011). A statement without it is still stamped, by the trigger.
 */
export const STAMP_UPDATED_AT = sql`updated_at = now()`;
