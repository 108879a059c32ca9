import type { Contract } from './contracts.js';
import { DeserializationError, ConfigurationError, SchemaError } from './errors.js';
import { describeJsonFailure } from './json-failure.js';

/**
 * Turns payloads into bytes and back. The bus picks a serializer for writing from the contract and for
 * reading from the envelope's `datacontenttype`. Either method may be synchronous (JSON) or not (Avro,
 * which may ask a schema registry). Failures are typed: `SchemaError` when a payload does not fit its
 * contract on write, `DeserializationError` when bytes cannot be read.
 */
export interface Serializer {
  readonly contentType: string;
  encode(payload: unknown, contract: Contract): Uint8Array | Promise<Uint8Array>;
  decode(body: Uint8Array, contract: Contract): unknown;
}

export const JSON_CONTENT_TYPE = 'application/json';

export class JsonSerializer implements Serializer {
  readonly contentType = JSON_CONTENT_TYPE;

  encode(payload: unknown, contract: Contract): Uint8Array {
    let text: string | undefined;
    try {
      text = JSON.stringify(payload);
    } catch (error) {
      const reason = describeJsonFailure(payload) ?? (error instanceof Error ? error.message : String(error));
      throw new SchemaError(`${contract.type}: payload cannot be written as JSON: ${reason}`, {
        cause: error,
      });
    }
    if (text === undefined) {
      const reason = describeJsonFailure(payload) ?? `payload is ${typeof payload}`;
      throw new SchemaError(`${contract.type}: payload cannot be written as JSON: ${reason}`);
    }
    return Buffer.from(text, 'utf8');
  }

  decode(body: Uint8Array, contract: Contract): unknown {
    try {
      return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch (error) {
      throw new DeserializationError(`${contract.type}: body is not valid JSON`, {
        code: 'MALFORMED_BODY',
        cause: error,
      });
    }
  }
}

/** The serializers a bus knows, by content type. */
export class SerializerRegistry {
  readonly #byType = new Map<string, Serializer>();

  constructor(serializers: readonly Serializer[]) {
    for (const serializer of serializers) {
      if (this.#byType.has(serializer.contentType)) {
        throw new ConfigurationError('serializers', `two serializers for ${serializer.contentType}`);
      }
      this.#byType.set(serializer.contentType, serializer);
    }
  }

  /** The serializer that writes `contract`: its `contentType`, else Avro when it names a schema, else JSON. */
  forContract(contract: Contract): Serializer {
    const contentType = contract.contentType ?? (contract.schema ? 'application/avro' : JSON_CONTENT_TYPE);
    const serializer = this.#byType.get(contentType);
    if (serializer === undefined) {
      throw new ConfigurationError(
        'serializers',
        `${contract.type} needs a serializer for ${contentType}; none is registered`,
      );
    }
    return serializer;
  }

  /** The serializer that reads a body of `contentType`; a `DeserializationError` when there is none. */
  forContentType(contentType: string | undefined): Serializer {
    const exact = contentType === undefined ? undefined : this.#byType.get(contentType);
    if (exact !== undefined) return exact; // the common case, on every delivery
    // Parameters such as `; charset=utf-8` do not change the format.
    const bare = contentType?.split(';', 1)[0]!.trim().toLowerCase();
    const serializer = bare === undefined ? undefined : this.#byType.get(bare);
    if (serializer === undefined) {
      throw new DeserializationError(
        contentType === undefined ? 'message has no content type' : `unknown content type ${contentType}`,
        { code: contentType === undefined ? 'MISSING_CONTENT_TYPE' : 'UNKNOWN_CONTENT_TYPE' },
      );
    }
    return serializer;
  }
}
