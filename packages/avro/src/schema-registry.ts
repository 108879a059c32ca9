/** A version of a subject in a schema registry. */
export interface SubjectVersion {
  readonly subject: string;
  readonly version: number;
  /** Global schema id: the one in the wire format. */
  readonly id: number;
  readonly schema: string;
}

/**
 * What the Avro serializer needs from a schema registry. `SchemaRegistryClient` implements it over the
 * Confluent REST API. Implementations cache what cannot change (a schema id's text) and fail with
 * `RegistryError`: `errorCode` 40401/40403 when the subject or schema is unknown, 409 when a schema is
 * refused as incompatible, retriable when the registry is unreachable.
 */
export interface SchemaRegistry {
  /** Registers `schema` under `subject` (idempotent: the same schema keeps its id) and returns its id. */
  register(subject: string, schema: string): Promise<number>;
  /** The version of `subject` that holds exactly `schema`. */
  lookup(subject: string, schema: string): Promise<SubjectVersion>;
  /** The text of the schema with this global id. */
  getSchemaById(id: number): Promise<string>;
}
