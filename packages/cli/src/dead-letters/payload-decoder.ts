import type { Contract, Envelope } from '@omnibus/core';
import { Header, JSON_CONTENT_TYPE, OmnibusError } from '@omnibus/core';
import type { ParsedSchema, SchemaRegistry } from '@omnibus/avro';
import { AVRO_CONTENT_TYPE, frame, parseSchema, unframe } from '@omnibus/avro';
import { checkAgainstContract } from './app-contracts.js';

/** A message body as an operator reads it. */
export type DecodedPayload =
  | { readonly format: 'json'; readonly value: unknown }
  | { readonly format: 'avro'; readonly schemaId: number; readonly schema: string; readonly value: unknown }
  | { readonly format: 'text'; readonly text: string }
  | { readonly format: 'bytes'; readonly base64: string }
  | { readonly format: 'undecodable'; readonly reason: string; readonly base64: string };

/** An edited payload that its schema refuses: nothing is sent. */
export class PayloadRejectedError extends OmnibusError {
  constructor(message: string) {
    super(message, { code: 'CONTRACT_VIOLATION', retriable: false });
  }
}

/**
 * Decodes bodies by their content type, the way the bus's serializers wrote them: JSON as JSON, Avro
 * (Confluent wire format) with the writer's schema read from the registry by the id in the body.
 */
export class PayloadDecoder {
  readonly #registry: SchemaRegistry | undefined;
  readonly #schemas = new Map<number, Promise<ParsedSchema>>();
  readonly #contracts: ReadonlyMap<string, Contract>;

  /** `contracts`: the application's, by type, whose `validate` an edit must pass. */
  constructor(registry: SchemaRegistry | undefined, contracts: ReadonlyMap<string, Contract> = new Map()) {
    this.#registry = registry;
    this.#contracts = contracts;
  }

  async decode(envelope: Envelope): Promise<DecodedPayload> {
    const body = Buffer.from(envelope.body);
    const contentType = envelope.headers[Header.contentType]?.split(';')[0]?.trim();
    try {
      if (contentType === AVRO_CONTENT_TYPE) {
        const { schemaId, avro } = unframe(body);
        const schema = await this.#schema(schemaId);
        // Avro's JSON encoding keeps what plain JSON cannot (bytes, longs, unions) and reads back exactly.
        const value: unknown = JSON.parse(schema.type.toString(schema.type.fromBuffer(avro)));
        return { format: 'avro', schemaId, schema: schema.canonical, value };
      }
      const text = body.toString('utf8');
      if (contentType === JSON_CONTENT_TYPE || contentType?.endsWith('+json')) {
        return { format: 'json', value: JSON.parse(text) };
      }
      if (Buffer.from(text, 'utf8').equals(body)) return { format: 'text', text };
      return { format: 'bytes', base64: body.toString('base64') };
    } catch (error) {
      return { format: 'undecodable', reason: (error as Error).message, base64: body.toString('base64') };
    }
  }

  /**
   * The body for an edited `value` of a payload of `type` decoded as `decoded`: checked by the `validate`
   * schema of the application's contract for `type` (when the decoder has one), then against the
   * writer's schema for Avro (and written with the same schema id), JSON otherwise.
   * `PayloadRejectedError` when the value does not fit, naming the fields.
   */
  async encode(decoded: DecodedPayload, edited: unknown, type: string): Promise<Uint8Array> {
    const contract = this.#contracts.get(type);
    let value = edited;
    if (contract !== undefined) {
      const checked = await checkAgainstContract(contract, edited);
      if ('refused' in checked) throw new PayloadRejectedError(checked.refused);
      value = checked.value;
    }
    switch (decoded.format) {
      case 'avro': {
        const schema = await this.#schema(decoded.schemaId);
        let typed: unknown;
        try {
          typed = schema.type.fromString(JSON.stringify(value));
        } catch (error) {
          throw new PayloadRejectedError(
            `does not fit schema ${decoded.schemaId}: ${(error as Error).message}`,
          );
        }
        const problems: string[] = [];
        if (!schema.type.isValid(typed, { errorHook: (path) => problems.push(path.join('.') || '(root)') })) {
          throw new PayloadRejectedError(`does not fit schema ${decoded.schemaId} at ${problems.join(', ')}`);
        }
        return frame(decoded.schemaId, schema.type.toBuffer(typed));
      }
      case 'json':
        return Buffer.from(JSON.stringify(value), 'utf8');
      case 'text':
        if (typeof value !== 'string')
          throw new PayloadRejectedError('a text payload must stay a JSON string');
        return Buffer.from(value, 'utf8');
      default:
        throw new PayloadRejectedError(`a ${decoded.format} payload cannot be edited`);
    }
  }

  /** The value to edit: what {@link encode} takes back. */
  static editable(decoded: DecodedPayload): unknown {
    switch (decoded.format) {
      case 'json':
      case 'avro':
        return decoded.value;
      case 'text':
        return decoded.text;
      default:
        throw new PayloadRejectedError(`a ${decoded.format} payload cannot be edited`);
    }
  }

  #schema(id: number): Promise<ParsedSchema> {
    let schema = this.#schemas.get(id);
    if (schema === undefined) {
      const registry = this.#registry;
      if (registry === undefined) {
        return Promise.reject(
          new Error(
            `Avro body (schema id ${id}) and no registry: set OMNIBUS_SCHEMA_REGISTRY_URL or registryUrl`,
          ),
        );
      }
      schema = registry.getSchemaById(id).then((text) => parseSchema(text));
      this.#schemas.set(id, schema);
    }
    return schema;
  }
}
