import { DatabaseError } from "../errors.ts";

/**
 * The lease rule, written once. A worker holding a lease renews it every `renewalPeriodMs`
 * (leaseMs / 3) and gives it up (its handler's signal aborts, a prefetched message is not
 * started) once it has gone `giveUpAfterMs` (two periods) without a confirmed renewal, counted
 * from when that renewal was sent. Recovery takes only rows not renewed for
 * `olderThanMs ≥ leaseMs` by the database's clock, which stamped the renewal after the worker
 * sent it, so a lease is given up by its holder a full period before anyone may take it.
 */
export const DEFAULT_LEASE_MS = 60_000;
const RENEWALS_PER_LEASE = 3;

export const renewalPeriodMs = (leaseMs: number) => leaseMs / RENEWALS_PER_LEASE;
export const giveUpAfterMs = (leaseMs: number) => leaseMs - renewalPeriodMs(leaseMs);

export function assertRecoveryRespectsLease(olderThanMs: number, leaseMs: number): void {
  if (!(leaseMs > 0) || !(olderThanMs >= leaseMs)) {
    throw new DatabaseError(
      "invalid_input",
      `Recovering leases older than ${olderThanMs} ms could take them from live workers: it needs olderThanMs ≥ leaseMs (${leaseMs} ms).`,
    );
  }
}
