import { TransportError, isOmnibusError } from '@omnibus/core';

/** gRPC status codes the transport tells apart (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC status code of an error from the client library, when it has one. */
export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

const NOT_RETRIABLE: ReadonlySet<number> = new Set([
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.NOT_FOUND,
  GrpcStatus.ALREADY_EXISTS,
  GrpcStatus.PERMISSION_DENIED,
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.UNIMPLEMENTED,
  GrpcStatus.UNAUTHENTICATED,
]);

/**
 * Anything the client library throws → a `TransportError` that says what failed. `NOT_FOUND` becomes
 * `NOT_PROVISIONED`; errors that retrying cannot fix (bad argument, permissions) are not retriable;
 * the gRPC code is kept in `cause`.
 */
export function toTransportError(error: unknown, what: string): TransportError {
  if (isOmnibusError(error) && error instanceof TransportError) return error;
  const code = grpcCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  if (code === GrpcStatus.NOT_FOUND) {
    return new TransportError(`${what}: not provisioned (${reason})`, {
      code: 'NOT_PROVISIONED',
      retriable: false,
      cause: error,
    });
  }
  return new TransportError(`${what}: ${reason}`, {
    code:
      code === GrpcStatus.PERMISSION_DENIED || code === GrpcStatus.UNAUTHENTICATED
        ? 'PERMISSION_DENIED'
        : 'TRANSPORT_ERROR',
    retriable: code === undefined || !NOT_RETRIABLE.has(code),
    cause: error,
  });
}
