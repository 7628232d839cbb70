import { randomFillSync } from "node:crypto";

let lastMs = 0;
let sequence = 0;

// Random bits are drawn from a pool refilled every 256 ids: a system call per id was over 1 %
// of a submission's CPU time.
const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;
function randomSixteen(): Buffer {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += 16;
  return pool.subarray(poolOffset - 16, poolOffset);
}

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit sequence that keeps ids made in
 * the same millisecond by this process in creation order, then random bits. Recipient ids are
 * made this way so ordering rows by id gives submission order.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    // 4096 ids in one millisecond: borrow the next one.
    lastMs += 1;
    sequence = 0;
  }
  // Used at once and never again: the pool's bytes are written in place.
  const bytes = randomSixteen();
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
