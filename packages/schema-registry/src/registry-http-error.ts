/**
 * A refusal in Confluent's terms: the HTTP status and the body `{ error_code, message }` that Confluent's
 * registry sends for the same case, so clients written against it (and their error handling) work.
 */
export class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryHttpError';
  }

  toBody(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

/** The refusals, by Confluent's error code. */
export const Refusal = {
  unauthorized: () => new RegistryHttpError(401, 401, 'Unauthorized'),
  notFound: () => new RegistryHttpError(404, 404, 'HTTP 404 Not Found'),
  methodNotAllowed: () => new RegistryHttpError(405, 405, 'HTTP 405 Method Not Allowed'),
  badRequest: (detail: string) => new RegistryHttpError(400, 400, detail),
  tooLarge: (limit: number) => new RegistryHttpError(413, 413, `Request body larger than ${limit} bytes`),
  unsupportedMediaType: (contentType: string | undefined) =>
    new RegistryHttpError(
      415,
      415,
      `Unsupported content type ${JSON.stringify(contentType ?? '')}: send application/vnd.schemaregistry.v1+json or application/json`,
    ),
  hostNotAllowed: (host: string | undefined) =>
    new RegistryHttpError(
      403,
      40301,
      `Host ${JSON.stringify(host ?? '')} is not allowed by this registry (see the allowedHosts option)`,
    ),
  subjectNotFound: (subject: string) => new RegistryHttpError(404, 40401, `Subject '${subject}' not found.`),
  versionNotFound: (version: number | string) =>
    new RegistryHttpError(404, 40402, `Version ${version} not found.`),
  schemaNotFound: (detail = 'Schema not found') => new RegistryHttpError(404, 40403, detail),
  subjectSoftDeleted: (subject: string) =>
    new RegistryHttpError(
      404,
      40404,
      `Subject '${subject}' was soft deleted.Set permanent=true to delete permanently`,
    ),
  subjectNotSoftDeleted: (subject: string) =>
    new RegistryHttpError(
      404,
      40405,
      `Subject '${subject}' was not deleted first before being permanently deleted`,
    ),
  versionSoftDeleted: (subject: string, version: number) =>
    new RegistryHttpError(
      404,
      40406,
      `Subject '${subject}' Version ${version} was soft deleted.Set permanent=true to delete permanently`,
    ),
  versionNotSoftDeleted: (subject: string, version: number) =>
    new RegistryHttpError(
      404,
      40407,
      `Subject '${subject}' Version ${version} was not deleted first before being permanently deleted`,
    ),
  subjectCompatibilityNotConfigured: (subject: string) =>
    new RegistryHttpError(
      404,
      40408,
      `Subject '${subject}' does not have subject-level compatibility configured`,
    ),
  subjectModeNotConfigured: (subject: string) =>
    new RegistryHttpError(404, 40409, `Subject '${subject}' does not have subject-level mode configured`),
  incompatibleSchema: (detail: string) => new RegistryHttpError(409, 409, detail),
  invalidSchema: (detail: string) => new RegistryHttpError(422, 42201, `Invalid schema ${detail}`),
  invalidVersion: (version: string) =>
    new RegistryHttpError(
      422,
      42202,
      `The specified version '${version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidCompatibilityLevel: (level: unknown) =>
    new RegistryHttpError(
      422,
      42203,
      `Invalid compatibility level ${JSON.stringify(level)}. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`,
    ),
  invalidMode: (mode: unknown) =>
    new RegistryHttpError(
      422,
      42204,
      `Invalid mode ${JSON.stringify(mode)}. Valid values are READWRITE and READONLY (IMPORT and READONLY_OVERRIDE are not supported by this registry)`,
    ),
  /** Ours: Confluent's registry has no quotas. */
  quotaExceeded: (detail: string) => new RegistryHttpError(422, 42210, `Quota exceeded: ${detail}`),
  readOnly: (subject: string) => new RegistryHttpError(422, 42205, `Subject ${subject} is in read-only mode`),
  storeError: () => new RegistryHttpError(500, 50001, 'Error in the backend data store'),
} as const;
