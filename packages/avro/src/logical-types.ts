import avsc from 'avsc';
import { DeserializationError } from '@omnibus/core';

/**
 * The Avro logical types Omnibus reads and writes, as avsc `LogicalType`s:
 * - `timestamp-millis` (long) ↔ `Date`;
 * - `decimal` (bytes or fixed, with `precision` and `scale`) ↔ a decimal string such as `"1234.50"`:
 *   money stays exact, never a binary float;
 * - `uuid` (string) ↔ a string in the canonical 8-4-4-4-12 hex form.
 * Other logical types are read as their underlying type, as the Avro specification requires.
 */
type Schema = avsc.Schema;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;

function isType(type: avsc.Type, ...names: string[]): boolean {
  return avsc.Type.isType(type, ...names);
}

export class TimestampMillisType extends avsc.types.LogicalType {
  protected override _fromValue(value: number): Date {
    return new Date(value);
  }

  protected override _toValue(value: unknown): number | undefined {
    if (!(value instanceof Date)) return undefined;
    const time = value.getTime();
    return Number.isNaN(time) ? undefined : time;
  }

  protected override _resolve(writer: avsc.Type): ((value: unknown) => unknown) | undefined {
    if (writer instanceof TimestampMillisType) return (value) => value;
    if (isType(writer, 'long', 'int')) return (value) => this._fromValue(value as number);
    return undefined;
  }
}

export class UuidType extends avsc.types.LogicalType {
  protected override _fromValue(value: string): string {
    return value;
  }

  protected override _toValue(value: unknown): string | undefined {
    return typeof value === 'string' && UUID.test(value) ? value : undefined;
  }

  protected override _resolve(writer: avsc.Type): ((value: unknown) => unknown) | undefined {
    if (writer instanceof UuidType || isType(writer, 'string')) return (value) => value;
    return undefined;
  }
}

/** `decimal` on `bytes` or `fixed`: the unscaled value in big-endian two's complement. */
export class DecimalType extends avsc.types.LogicalType {
  readonly precision: number;
  readonly scale: number;
  /** Byte length when the underlying type is `fixed`. */
  readonly #size: number | undefined;
  /** The most bytes the two's complement of a `precision`-digit number takes: longer input is refused unread. */
  readonly #maxBytes: number;

  constructor(schema: Schema, options?: unknown) {
    super(schema, options);
    const attributes = schema as { precision?: unknown; scale?: unknown; size?: unknown };
    const precision = attributes.precision;
    const scale = attributes.scale ?? 0;
    if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 1) {
      throw new Error(`decimal precision must be a positive integer, got ${JSON.stringify(precision)}`);
    }
    if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > precision) {
      throw new Error(`decimal scale must be an integer in [0, precision], got ${JSON.stringify(scale)}`);
    }
    const underlying = this.underlyingType;
    if (isType(underlying, 'fixed')) {
      const size = (underlying as unknown as { size: number }).size;
      const maxPrecision = Math.floor(Math.log10(2) * (8 * size - 1));
      if (precision > maxPrecision) {
        throw new Error(`decimal precision ${precision} does not fit in fixed(${size})`);
      }
      this.#size = size;
    } else if (!isType(underlying, 'bytes')) {
      throw new Error('decimal must be bytes or fixed');
    }
    this.precision = precision;
    this.scale = scale;
    // 10^p - 1 needs p·log2(10) bits plus a sign bit.
    this.#maxBytes = Math.ceil((precision * Math.log2(10) + 1) / 8);
  }

  /**
   * Refuses (`DECIMAL_OUT_OF_RANGE`) bytes longer than the precision can need, before converting them,
   * and a value with more digits than the precision, after.
   */
  protected override _fromValue(buffer: Buffer): string {
    const digits = `decimal(${this.precision},${this.scale})`;
    if (buffer.length > this.#maxBytes && this.#size === undefined) {
      throw new DeserializationError(
        `a ${digits} of ${buffer.length} bytes: ${this.precision} digits need at most ${this.#maxBytes}`,
        { code: 'DECIMAL_OUT_OF_RANGE' },
      );
    }
    const unscaled = fromTwosComplement(buffer);
    const magnitude = (unscaled < 0n ? -unscaled : unscaled).toString();
    if (magnitude.length > this.precision) {
      throw new DeserializationError(`a ${digits} holding ${magnitude.length} digits`, {
        code: 'DECIMAL_OUT_OF_RANGE',
      });
    }
    return formatDecimal(unscaled, this.scale);
  }

  protected override _toValue(value: unknown): Buffer | undefined {
    const unscaled = this.#unscaled(value);
    return unscaled === undefined ? undefined : toTwosComplement(unscaled, this.#size);
  }

  protected override _resolve(writer: avsc.Type): ((value: unknown) => unknown) | undefined {
    if (writer instanceof DecimalType) {
      if (writer.scale === this.scale) return (value) => value;
      // A different scale is a different number for the same bytes: convert through the exact value.
      return (value) => {
        const unscaled = this.#unscaled(value);
        if (unscaled === undefined) {
          throw new Error(`decimal ${String(value)} does not fit decimal(${this.precision},${this.scale})`);
        }
        return formatDecimal(unscaled, this.scale);
      };
    }
    if (isType(writer, 'bytes', 'fixed')) return (value) => this._fromValue(value as Buffer);
    return undefined;
  }

  protected override _export(schema: Schema): void {
    const attributes = schema as { precision?: number; scale?: number };
    attributes.precision = this.precision;
    attributes.scale = this.scale;
  }

  /** The unscaled integer of a decimal string, or undefined when it is not one that fits this type. */
  #unscaled(value: unknown): bigint | undefined {
    if (typeof value !== 'string') return undefined;
    const match = DECIMAL.exec(value);
    if (match === null) return undefined;
    const [, sign, whole, fraction = ''] = match as unknown as [string, string, string, string?];
    // Trailing zeros beyond the scale lose nothing; other digits would.
    const significantFraction = fraction.replace(/0+$/, '');
    if (significantFraction.length > this.scale) return undefined;
    const digits = (whole + significantFraction.padEnd(this.scale, '0')).replace(/^0+(?=\d)/, '');
    if (digits.length > this.precision) return undefined;
    const unscaled = BigInt(digits);
    return sign === '-' ? -unscaled : unscaled;
  }
}

/** Linear in the length: one hex parse, where shifting byte by byte would copy the growing bigint each time. */
function fromTwosComplement(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  const value = BigInt(`0x${bytes.toString('hex')}`);
  return bytes[0]! & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

function toTwosComplement(value: bigint, size: number | undefined): Buffer {
  let length = 1;
  while (value >= 1n << BigInt(length * 8 - 1) || value < -(1n << BigInt(length * 8 - 1))) length++;
  const total = size ?? length;
  const buffer = Buffer.alloc(total, value < 0n ? 0xff : 0);
  let rest = value < 0n ? (1n << BigInt(total * 8)) + value : value;
  for (let i = total - 1; i >= 0 && rest > 0n; i--) {
    buffer[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return buffer;
}

function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** The logical types to pass to `avsc.Type.forSchema`. */
export const logicalTypes = {
  'timestamp-millis': TimestampMillisType,
  decimal: DecimalType,
  uuid: UuidType,
} as const;
