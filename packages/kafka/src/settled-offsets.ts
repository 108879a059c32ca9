/**
 * Kafka commits one offset per partition: everything below it is done. With parallel handling, records
 * after the first unsettled one are often settled already; without more information they would all be
 * delivered again after a rebalance or restart. This codec writes them into the commit's metadata
 * string (a bitset after the committed offset, base64), so the next owner of the partition skips them
 * and redelivers exactly the unsettled records.
 */

const VERSION = 'omnibus1';
/** Kafka's default `offset.metadata.max.bytes` is 4096; stay below it with room for the prefix. */
const MAX_BITSET_BYTES = 2_900;

/** The offsets settled after `committed` (each > committed), as commit metadata; '' when there are none. */
export function encodeSettledOffsets(committed: number, settled: Iterable<number>): string {
  let bytes: Uint8Array | undefined;
  let used = 0;
  for (const offset of settled) {
    const bit = offset - committed - 1;
    if (bit < 0 || bit >= MAX_BITSET_BYTES * 8) continue; // beyond the window: delivered again, harmlessly
    const index = bit >> 3;
    bytes ??= new Uint8Array(MAX_BITSET_BYTES);
    bytes[index]! |= 1 << (bit & 7);
    if (index + 1 > used) used = index + 1;
  }
  if (bytes === undefined) return '';
  return `${VERSION}:${committed}:${Buffer.from(bytes.buffer, 0, used).toString('base64')}`;
}

/**
 * The settled offsets a commit's metadata records, or an empty set for metadata that is absent, foreign
 * or malformed (every record is then delivered, which is always safe).
 */
export function decodeSettledOffsets(metadata: string | null | undefined): ReadonlySet<number> {
  const settled = new Set<number>();
  if (typeof metadata !== 'string') return settled;
  const [version, base, bits, ...rest] = metadata.split(':');
  const committed = Number(base);
  if (version !== VERSION || bits === undefined || rest.length > 0 || !Number.isSafeInteger(committed)) {
    return settled;
  }
  const bytes = Buffer.from(bits, 'base64');
  for (let index = 0; index < bytes.length && index < MAX_BITSET_BYTES; index++) {
    const byte = bytes[index]!;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((byte & (1 << bit)) !== 0) settled.add(committed + 1 + index * 8 + bit);
    }
  }
  return settled;
}
