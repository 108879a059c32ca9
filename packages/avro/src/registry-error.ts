import { OmnibusError } from '@omnibus/core';

/** Confluent's `error_code`s that callers tell apart. */
export const RegistryErrorCode = {
  unauthorized: 401,
  subjectNotFound: 40401,
  versionNotFound: 40402,
  schemaNotFound: 40403,
  subjectSoftDeleted: 40404,
  subjectNotSoftDeleted: 40405,
  versionSoftDeleted: 40406,
  versionNotSoftDeleted: 40407,
  subjectCompatibilityNotConfigured: 40408,
  subjectModeNotConfigured: 40409,
  incompatibleSchema: 409,
  invalidSchema: 42201,
  invalidVersion: 42202,
  invalidCompatibilityLevel: 42203,
  invalidMode: 42204,
  operationNotPermitted: 42205,
  storeError: 50001,
} as const;

const CODES: Record<number, string> = {
  401: 'REGISTRY_UNAUTHORIZED',
  403: 'REGISTRY_FORBIDDEN',
  40401: 'SUBJECT_NOT_FOUND',
  40402: 'VERSION_NOT_FOUND',
  40403: 'SCHEMA_NOT_FOUND',
  409: 'INCOMPATIBLE_SCHEMA',
  42201: 'INVALID_SCHEMA',
};

export interface RegistryErrorOptions {
  /** HTTP status; undefined when no response came. */
  readonly status?: number;
  /** Confluent `error_code` from the body (e.g. 40403); else the status. */
  readonly errorCode?: number;
  readonly retriable?: boolean;
  readonly code?: string;
  readonly cause?: unknown;
}

/**
 * A schema registry refused a request or could not be reached. `errorCode` is Confluent's `error_code`
 * (see `RegistryErrorCode`); `code` is its Omnibus name (`SCHEMA_NOT_FOUND`...). Server errors (5xx),
 * throttling (429) and network failures are retriable; refusals (4xx) are not.
 */
export class RegistryError extends OmnibusError {
  readonly status: number | undefined;
  readonly errorCode: number | undefined;

  constructor(message: string, options: RegistryErrorOptions = {}) {
    const status = options.status;
    const errorCode = options.errorCode ?? status;
    super(message, {
      code: options.code ?? (errorCode === undefined ? undefined : CODES[errorCode]) ?? 'REGISTRY_ERROR',
      retriable: options.retriable ?? (status === undefined || status >= 500 || status === 429),
      cause: options.cause,
    });
    this.status = status;
    this.errorCode = errorCode;
  }
}
