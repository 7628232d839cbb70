import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { endLeases } from "./end-lease.ts";
import type { FinishResult, Lease } from "./types.ts";
import { withDatabaseErrors } from "../errors.ts";

/**
 * processing → queued, due now, the attempt not counted: claimed messages whose handler never
 * started (a worker stopping with a prefetched buffer) go back as if never claimed.
 */
export const releaseMany = withDatabaseErrors(function releaseMany(
  db: Database,
  leases: readonly Lease[],
): Promise<FinishResult> {
  return endLeases(
    db,
    leases,
    sql`status = 'queued', attempts = o.attempts - 1, next_retry_at = NULL`,
  );
});
