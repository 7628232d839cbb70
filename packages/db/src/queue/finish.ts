import { sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { endLeases, requireHeld } from "./end-lease.ts";
import { sqlNow } from "./sql-now.ts";
import type { FinishResult, Lease, QueueClock } from "./types.ts";

/** processing → sent | bounced, for the lease holder only; one round trip for any number. */
function finishMany(
  db: Database,
  leases: readonly Lease[],
  status: "sent" | "bounced",
  clock?: QueueClock,
): Promise<FinishResult> {
  const sentAt = status === "sent" ? sqlNow(clock) : sql`NULL`;
  return endLeases(
    db,
    leases,
    sql`status = ${status}::outbound_message_status, sent_at = ${sentAt}`,
  );
}

export async function markSent(db: Database, lease: Lease, clock?: QueueClock): Promise<void> {
  requireHeld(await finishMany(db, [lease], "sent", clock), lease);
}
export function markSentMany(
  db: Database,
  leases: readonly Lease[],
  clock?: QueueClock,
): Promise<FinishResult> {
  return finishMany(db, leases, "sent", clock);
}
export async function markBounced(db: Database, lease: Lease, clock?: QueueClock): Promise<void> {
  requireHeld(await finishMany(db, [lease], "bounced", clock), lease);
}
export function markBouncedMany(
  db: Database,
  leases: readonly Lease[],
  clock?: QueueClock,
): Promise<FinishResult> {
  return finishMany(db, leases, "bounced", clock);
}
