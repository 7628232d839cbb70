import { type SQL, sql } from "drizzle-orm";

/**
 * The one place a line is added to `error_log`: `<ISO time> attempt <n>: <message>\n`, the
 * message folded onto one line and cut to 500 characters. Built in SQL so that every writer
 * (a failure reported by a worker, a lease recovered from a lost one) goes through it; `at`,
 * `attempt` and `message` are SQL expressions over the row being updated (`o`).
 * Callers pass operator-readable text, never credentials; what handlers report is also passed
 * through scrubErrorText (scrub.ts) on the way in.
 */
export function appendErrorLog(at: SQL, attempt: SQL, message: SQL): SQL {
  const folded = sql`left(btrim(regexp_replace(${message}, '\\s+', ' ', 'g')), 500)`;
  return sql`error_log = coalesce(o.error_log, '')
    || to_char(${at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    || ' attempt ' || ${attempt} || ': ' || coalesce(nullif(${folded}, ''), 'unknown error') || E'\\n'`;
}
