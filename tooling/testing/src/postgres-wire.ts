// A loopback relay in front of Postgres that counts the round trips its clients make.
import { startRelay } from "./tcp.ts";

export interface RoundTripCounter {
  /** The target URL with its host and port replaced by the relay's. */
  url: string;
  /** Round trips since the last reset. */
  count(): number;
  reset(): void;
  close(): Promise<void>;
}

/**
 * Every point where a client waits for the server ends what it sent with a Sync or a Flush
 * (extended protocol) or is one Query message (simple protocol); the counter parses each
 * connection's frontend messages and counts those.
 */
export async function startRoundTripCounter(target: string): Promise<RoundTripCounter> {
  const targetUrl = new URL(target);
  let roundTrips = 0;
  const relay = await startRelay(Number(targetUrl.port || 5432), {
    host: targetUrl.hostname,
    record: false,
    hooks: () => {
      let pending = Buffer.alloc(0);
      let started = false;
      return {
        fromClient: (chunk) => {
          pending = Buffer.concat([pending, chunk]);
          for (;;) {
            if (!started) {
              // The startup message, or an SSLRequest before it: no type byte.
              if (pending.length < 8) break;
              const length = pending.readInt32BE(0);
              if (pending.length < length) break;
              started = pending.readInt32BE(4) !== 80877103;
              pending = pending.subarray(length);
              continue;
            }
            if (pending.length < 5) break;
            const length = pending.readInt32BE(1);
            if (pending.length < 1 + length) break;
            if ("SHQ".includes(String.fromCharCode(pending[0]!))) roundTrips += 1;
            pending = pending.subarray(1 + length);
          }
        },
      };
    },
  });
  const url = new URL(targetUrl);
  url.host = `127.0.0.1:${relay.port}`;
  return {
    url: url.toString(),
    count: () => roundTrips,
    reset: () => {
      roundTrips = 0;
    },
    close: () => relay.close(),
  };
}
