import { expect } from 'chai';

/**
 * The package's public surface, by name: a change to it is deliberate, and shows here. Types are not
 * listed (they leave nothing at run time); the value exports are.
 */
describe('@omnibus/avro exports', function () {
  it('@omnibus/avro exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/avro')).sort()).to.deep.equal([
      'AVRO_CONTENT_TYPE',
      'AvroSerializer',
      'COMPATIBILITY_LEVELS',
      'DEFAULT_DECODE_LIMITS',
      'DecimalType',
      'MAGIC_BYTE',
      'REGISTRY_CONTENT_TYPE',
      'RecordNameStrategy',
      'RegistryError',
      'RegistryErrorCode',
      'SchemaRegistryClient',
      'TimestampMillisType',
      'TopicNameStrategy',
      'TopicRecordNameStrategy',
      'UuidType',
      'WIRE_HEADER_BYTES',
      'checkCompatibility',
      'frame',
      'isCompatibilityLevel',
      'listSchemaFiles',
      'logicalTypes',
      'parseSchema',
      'readSchemaFile',
      'resolutionIncompatibilities',
      'toSchemaGraph',
      'unframe',
    ]);
  });
});
