/**
 * Message ids: UUIDv7 (RFC 9562), 48 bits of Unix milliseconds, a 12-bit
 * counter, then random bits, so ids sort by creation time and index well.
 * Within one millisecond the counter (seeded at random below 0x800 on each
 * new millisecond) grows by one per id, so ids made in order sort in order
 * (RFC 9562 §6.2, method 1); when it runs out, or the clock steps back, the
 * timestamp is carried forward instead, so order is never broken.
 *
 * Every publish makes one, so it is built for the per-message path (issue
 * #10): the random bits come from a pool of bytes filled by the CSPRNG a few
 * KiB at a time, and each byte becomes hex through a table. A v4 UUID from
 * `randomUUID()` cut and re-formatted into a v7 measured 8.8 µs per publish
 * (median) between socket reads, with the caches cold; this is a
 * quarter of that.
 */
import { randomFillSync } from "node:crypto";

/** Random bytes each id takes from the pool: the 62 random bits and a counter seed. */
const BYTES_PER_ID = 10;
/** Ids served by one fill of the pool. */
const IDS_PER_FILL = 512;

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
const pool = Buffer.alloc(BYTES_PER_ID * IDS_PER_FILL);
let offset = pool.length;

let lastMs = -1;
/** `lastMs` as the id's first 8 hex digits, a dash and the next 4. */
let timeHex = "";
let counter = 0;

/** A UUIDv7 for `nowMs` (see the module comment). */
export function uuidv7(nowMs: number = Date.now()): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += BYTES_PER_ID;
  if (nowMs > lastMs) {
    lastMs = nowMs;
    timeHex = formatTime(nowMs);
    counter = (((pool[at + 8] as number) << 8) | (pool[at + 9] as number)) & 0x7ff;
  } else if (++counter > 0xfff) {
    lastMs += 1;
    timeHex = formatTime(lastMs);
    counter = 0;
  }
  const b = pool;
  return (
    timeHex +
    "-7" +
    (counter >> 8).toString(16) +
    HEX[counter & 0xff] +
    "-" +
    // The RFC 9562 variant (10xx) in the top bits of this byte.
    HEX[((b[at] as number) & 0x3f) | 0x80] +
    HEX[b[at + 1] as number] +
    "-" +
    HEX[b[at + 2] as number] +
    HEX[b[at + 3] as number] +
    HEX[b[at + 4] as number] +
    HEX[b[at + 5] as number] +
    HEX[b[at + 6] as number] +
    HEX[b[at + 7] as number]
  );
}

/** `ms` as 12 hex digits, split 8-4 by a dash. */
function formatTime(ms: number): string {
  const hex = ms.toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}
