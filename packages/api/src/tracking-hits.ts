import { type Database, type TrackingHit, recordOpens } from "@imap-proxy/db";
import { MAX_STORED_USER_AGENT, ipPrefix, labelRequest } from "@imap-proxy/tracking";
import type { FastifyBaseLogger, FastifyRequest } from "fastify";

/** What a tracking request says about its client: label, user agent, network (never the full IP). */
export function hitOf(request: FastifyRequest, recipientId: string): TrackingHit {
  const userAgent = request.headers["user-agent"];
  return {
    recipientId,
    label: labelRequest({ userAgent, ip: request.ip }),
    userAgent: userAgent === undefined ? undefined : userAgent.slice(0, MAX_STORED_USER_AGENT),
    ipPrefix: ipPrefix(request.ip),
  };
}

/**
 * Opens are written after their responses, many per statement: the pixel's answer never waits
 * for the database, and a burst of image fetches costs few round trips. At most `maxBatch` per
 * statement, one statement in flight; `close` writes what is left.
 */
export class OpenRecorder {
  #pending: TrackingHit[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly log: FastifyBaseLogger,
    private readonly delayMs = 50,
    private readonly maxBatch = 500,
  ) {}

  add(hit: TrackingHit): void {
    this.#pending.push(hit);
    if (this.#pending.length >= this.maxBatch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.delayMs);
  }

  /** Writes everything added so far (waits for a statement already running). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#flushing !== undefined) await this.#flushing;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, this.maxBatch);
    this.#flushing = recordOpens(this.db, batch)
      .then(
        () => undefined,
        (error: unknown) =>
          // Hits are not worth failing a server for; what was lost is counted in the log.
          this.log.warn(
            { lost: batch.length, code: (error as { code?: unknown }).code },
            "recording opens failed",
          ),
      )
      .finally(() => (this.#flushing = undefined));
    await this.#flushing;
    if (this.#pending.length > 0) await this.flush();
  }
}
