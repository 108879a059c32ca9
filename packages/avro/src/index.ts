export { AVRO_CONTENT_TYPE, AvroSerializer, type AvroSerializerOptions } from './avro-serializer.js';
export {
  parseSchema,
  type AvroSchemaJson,
  type ParsedSchema,
  type ParseSchemaOptions,
} from './avro-schema.js';
export {
  COMPATIBILITY_LEVELS,
  checkCompatibility,
  isCompatibilityLevel,
  type CompatibilityLevel,
  type CompatibilityResult,
  type CompatibilityViolation,
  type PreviousVersion,
} from './compatibility.js';
export { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
export { DecimalType, TimestampMillisType, UuidType, logicalTypes } from './logical-types.js';
export {
  REGISTRY_CONTENT_TYPE,
  SchemaRegistryClient,
  type CompatibilityCheck,
  type SchemaRegistryClientOptions,
} from './registry-client.js';
export { RegistryError, RegistryErrorCode, type RegistryErrorOptions } from './registry-error.js';
export { listSchemaFiles, readSchemaFile } from './schema-files.js';
export type { SchemaRegistry, SubjectVersion } from './schema-registry.js';
export { toSchemaGraph, type SchemaNode } from './schema-graph.js';
export {
  resolutionIncompatibilities,
  type Incompatibility,
  type IncompatibilityType,
} from './schema-resolution.js';
export {
  RecordNameStrategy,
  TopicNameStrategy,
  TopicRecordNameStrategy,
  type SubjectNameStrategy,
} from './subject-name-strategy.js';
export { MAGIC_BYTE, WIRE_HEADER_BYTES, frame, unframe } from './wire-format.js';
