import { randomFillSync } from 'node:crypto';

const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;
let lastMs = 0;
let sequence = 0;
const text = Buffer.alloc(36);
/** The two ASCII hex digits of each byte value, high digit in the low byte. */
const HEX_PAIRS = Uint16Array.from({ length: 256 }, (_, value) => {
  const digits = value.toString(16).padStart(2, '0');
  return digits.charCodeAt(0) | (digits.charCodeAt(1) << 8);
});

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by creation time.
 * Within one millisecond a 12-bit counter in `rand_a` keeps ids from one process monotonic.
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += 16;
  if (now > lastMs) {
    lastMs = now;
    sequence = pool[at + 6]! & 0x07; // start low so the counter has room to grow
  } else {
    now = lastMs;
    sequence++;
    if (sequence > 0xfff) {
      lastMs++;
      now = lastMs;
      sequence = 0;
    }
  }
  pool[at] = Math.floor(now / 2 ** 40) & 0xff;
  pool[at + 1] = Math.floor(now / 2 ** 32) & 0xff;
  pool[at + 2] = (now >>> 24) & 0xff;
  pool[at + 3] = (now >>> 16) & 0xff;
  pool[at + 4] = (now >>> 8) & 0xff;
  pool[at + 5] = now & 0xff;
  pool[at + 6] = 0x70 | (sequence >>> 8);
  pool[at + 7] = sequence & 0xff;
  pool[at + 8] = 0x80 | (pool[at + 8]! & 0x3f);
  // Hex digits written into one 36-byte buffer and read back as one flat string: about half the cost of
  // hex-encoding and slicing (it is on every publish).
  let out = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 0x2d; // '-'
    const pair = HEX_PAIRS[pool[at + i]!]!;
    text[out++] = pair & 0xff;
    text[out++] = pair >>> 8;
  }
  return text.toString('latin1', 0, 36);
}
