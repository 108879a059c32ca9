import { DeserializationError } from '@omnibus/core';

/**
 * Confluent's wire format, read by every Kafka client that speaks to a schema registry: one magic byte
 * `0`, the schema id as a 4-byte big-endian integer, then the Avro binary encoding of the value.
 */
export const MAGIC_BYTE = 0;
export const WIRE_HEADER_BYTES = 5;

export function frame(schemaId: number, avro: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(WIRE_HEADER_BYTES + avro.byteLength);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  out.set(avro, WIRE_HEADER_BYTES);
  return out;
}

/** Splits a framed body; `DeserializationError` (`INVALID_WIRE_FORMAT`) when it is not one. */
export function unframe(body: Uint8Array): { schemaId: number; avro: Buffer } {
  if (body.byteLength < WIRE_HEADER_BYTES) {
    throw new DeserializationError(
      `body of ${body.byteLength} bytes is too short for the Confluent wire format (magic byte and 4-byte schema id)`,
      { code: 'INVALID_WIRE_FORMAT' },
    );
  }
  if (body[0] !== MAGIC_BYTE) {
    throw new DeserializationError(
      `body starts with byte ${body[0]}, not the Confluent magic byte ${MAGIC_BYTE}: not Avro from a schema registry`,
      { code: 'INVALID_WIRE_FORMAT' },
    );
  }
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return { schemaId: buffer.readUInt32BE(1), avro: buffer.subarray(WIRE_HEADER_BYTES) };
}
