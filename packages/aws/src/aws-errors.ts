import { OmnibusError, TransportError } from '@omnibus/core';

/** Error names of SQS and SNS that mean "that queue or topic does not exist". */
const NOT_FOUND = new Set([
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NonExistentQueue',
  'NotFoundException',
  'NotFound',
  'ResourceNotFoundException',
]);

/** Socket-level failures: the endpoint is down or restarting; worth retrying. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface AwsErrorShape {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number };
}

/**
 * Anything an SDK call threw → `TransportError`. Codes: `NOT_PROVISIONED` (no such queue/topic,
 * non-retriable), `BROKER_UNAVAILABLE` (network, throttling, 5xx: retriable), `AWS_REQUEST_REJECTED`
 * (any other client fault: non-retriable, the AWS error name in the message). An OmnibusError is kept.
 */
export function toTransportError(error: unknown, doing: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  const shape = (error ?? {}) as AwsErrorShape;
  const name = shape.name ?? 'Error';
  const detail = error instanceof Error ? error.message : String(error);
  if (NOT_FOUND.has(name)) {
    return new TransportError(`${doing}: not provisioned (${name}: ${detail})`, {
      code: 'NOT_PROVISIONED',
      retriable: false,
      cause: error,
    });
  }
  if (isTransient(shape)) {
    return new TransportError(`${doing}: ${name}: ${detail}`, {
      code: 'BROKER_UNAVAILABLE',
      retriable: true,
      cause: error,
    });
  }
  if (shape.$fault === 'client') {
    return new TransportError(`${doing}: ${name}: ${detail}`, {
      code: 'AWS_REQUEST_REJECTED',
      retriable: false,
      cause: error,
    });
  }
  return new TransportError(`${doing}: ${name}: ${detail}`, {
    code: 'BROKER_UNAVAILABLE',
    retriable: true,
    cause: error,
  });
}

function isTransient(shape: AwsErrorShape): boolean {
  if (shape.$retryable !== undefined || shape.$fault === 'server') return true;
  if (shape.code !== undefined && NETWORK_CODES.has(shape.code)) return true;
  const status = shape.$metadata?.httpStatusCode;
  return status === 429 || (status !== undefined && status >= 500) || /throttl/i.test(shape.name ?? '');
}

/** Whether an SDK error says the queue or topic does not exist. */
export function isNotFound(error: unknown): boolean {
  return NOT_FOUND.has((error as AwsErrorShape | undefined)?.name ?? '');
}

/** Whether an SDK error is an abort we asked for (a poll cut short by `close`). */
export function isAbort(error: unknown): boolean {
  const name = (error as AwsErrorShape | undefined)?.name;
  return name === 'AbortError';
}
