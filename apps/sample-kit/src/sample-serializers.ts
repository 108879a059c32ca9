import { fileURLToPath } from 'node:url';
import { AvroSerializer, SchemaRegistryClient } from '@omnibus/avro';

/** The repository's `schemas/`: the contracts' Avro files. */
export const schemasDir = fileURLToPath(new URL('../../../../schemas', import.meta.url));

/** The Avro serializer of the sample's contracts, through the registry at `registryUrl`. */
export function createAvro(registryUrl: string): AvroSerializer {
  return new AvroSerializer({ registry: new SchemaRegistryClient({ url: registryUrl }), schemasDir });
}
