import { randomFillSync } from 'node:crypto';

const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;
let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by creation time.
 * Within one millisecond a 12-bit counter in `rand_a` keeps ids from one process monotonic.
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  if (now > lastMs) {
    lastMs = now;
    sequence = bytes[6]! & 0x07; // start low so the counter has room to grow
  } else {
    now = lastMs;
    sequence++;
    if (sequence > 0xfff) {
      lastMs++;
      now = lastMs;
      sequence = 0;
    }
  }
  const hex: string[] = new Array<string>(16);
  hex[0] = byte(Math.floor(now / 2 ** 40));
  hex[1] = byte(Math.floor(now / 2 ** 32));
  hex[2] = byte(now >>> 24);
  hex[3] = byte(now >>> 16);
  hex[4] = byte(now >>> 8);
  hex[5] = byte(now);
  hex[6] = byte(0x70 | (sequence >>> 8));
  hex[7] = byte(sequence);
  hex[8] = byte(0x80 | (bytes[8]! & 0x3f));
  for (let i = 9; i < 16; i++) hex[i] = byte(bytes[i]!);
  return `${hex[0]}${hex[1]}${hex[2]}${hex[3]}-${hex[4]}${hex[5]}-${hex[6]}${hex[7]}-${hex[8]}${hex[9]}-${hex[10]}${hex[11]}${hex[12]}${hex[13]}${hex[14]}${hex[15]}`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function byte(value: number): string {
  return HEX[value & 0xff]!;
}
