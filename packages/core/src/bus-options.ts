import type { Backoff } from './backoff.js';
import type { CircuitBreakerOptions } from './pipeline/circuit-breaker.js';
import type { HandlerClass, RetryPolicy } from './decorators.js';
import { ConfigurationError } from './errors.js';
import type { Logger } from './logger.js';
import type { Persistence } from './persistence.js';
import type { OutboxRelayOptions } from './outbox-relay.js';
import type { Middleware } from './pipeline/middleware.js';
import type { Serializer } from './serializer.js';
import type { SigningOptions } from './signing/signing-options.js';
import type { TelemetryOptions } from './telemetry/telemetry.js';
import type { Transport } from './transport.js';

/** `Tx` is the transaction type of `persistence`, inferred from it; see `MessageContext`. */
export interface BusOptions<Tx = unknown> {
  readonly transport: Transport;
  /** This service's name: the CloudEvents `source` of what it publishes. */
  readonly serviceName: string;
  /** Handler classes (decorated with `@Subscriber` and `@Handle`). */
  readonly handlers?: readonly HandlerClass[];
  /** Makes a handler instance for each message. Default `new Class()`; `createBus` wires inversify. */
  readonly resolveHandler?: (handlerClass: HandlerClass) => object;
  /** Serializers besides JSON (e.g. Avro). */
  readonly serializers?: readonly Serializer[];
  /** Default `defaultLogger()`: warnings and errors to stderr, one JSON line each; `silentLogger` for none. */
  readonly logger?: Logger;
  /** Deliveries handled at once per consumer unless `@Subscriber` says otherwise. Default 16. */
  readonly concurrency?: number;
  /** Retry policy of handlers that set none. */
  readonly retry?: RetryPolicy;
  /**
   * A handling that loses an optimistic-concurrency update (a `ConcurrencyError`, e.g. a saga step) runs
   * again at once, in the same delivery, with fresh state and without spending `retry.attempts`: up to
   * `maxRetries` conflicts in a row (default 200), `backoff` apart (default exponential from 5 ms to
   * 500 ms, full jitter); past that it is dead-lettered (a livelock ends loudly).
   */
  readonly conflictRetry?: { readonly maxRetries?: number; readonly backoff?: Backoff };
  /** Handler timeout for handlers that set none. Default: none. */
  readonly timeoutMs?: number;
  /** A circuit breaker per consumer; off unless given. */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /** Unit of work, inbox and outbox: exactly-once effects. Without it, handlers run without a transaction. */
  readonly persistence?: Persistence<Tx>;
  /**
   * The relay that publishes the outbox, run by the bus from `start` to `stop` when `persistence.outbox`
   * is an `OutboxStore`: its options, or `false` when relays run elsewhere (a process of their own).
   */
  readonly outboxRelay?: false | Omit<OutboxRelayOptions, 'store' | 'transport'>;
  /** Extra middleware, run innermost (just around the handler), in order. */
  readonly middleware?: readonly Middleware[];
  /** How long `stop()` lets in-flight handlers finish before aborting them. Default 30 s. */
  readonly drainTimeoutMs?: number;
  /**
   * Envelope signing: what this bus publishes is signed, what it receives is verified before it is
   * decoded (an unsigned message, where `required`, or one that does not verify is dead-lettered), and
   * only a sealed replay (`replayDeadLetters` with the same keys) addresses an event to one group.
   * Off unless given.
   */
  readonly signing?: SigningOptions;
  /** Whether `stop()` also closes the transport. Default true. */
  readonly closeTransport?: boolean;
  /** Request/reply, answering side (see docs/request-reply.md). */
  readonly replies?: {
    /** Put the handler's stack into the remote errors this bus sends back. Default false. */
    readonly includeStack?: boolean;
  };
  /** Where spans and metrics go; default the global OpenTelemetry providers (no-ops without an SDK). */
  readonly telemetry?: TelemetryOptions;
}

export function validateBusOptions<Tx>(options: BusOptions<Tx>): void {
  if (options === null || typeof options !== 'object')
    throw new ConfigurationError('options', 'must be an object');
  const transport = options.transport as Partial<BusOptions['transport']> | undefined;
  if (typeof transport?.publish !== 'function' || typeof transport.consume !== 'function') {
    throw new ConfigurationError('transport', 'must implement Transport');
  }
  if (typeof options.serviceName !== 'string' || options.serviceName.length === 0) {
    throw new ConfigurationError('serviceName', 'must be a non-empty string');
  }
  positiveInteger('concurrency', options.concurrency);
  positiveInteger('retry.attempts', options.retry?.attempts);
  nonNegativeInteger('retry.immediate', options.retry?.immediate);
  nonNegativeInteger('conflictRetry.maxRetries', options.conflictRetry?.maxRetries);
  positiveNumber('timeoutMs', options.timeoutMs);
  positiveNumber('drainTimeoutMs', options.drainTimeoutMs);
}

export function positiveInteger(field: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new ConfigurationError(field, `must be a positive integer, got ${String(value)}`);
  }
}

function nonNegativeInteger(field: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new ConfigurationError(field, `must be a non-negative integer, got ${String(value)}`);
  }
}

function positiveNumber(field: string, value: number | undefined): void {
  if (value !== undefined && !(value > 0))
    throw new ConfigurationError(field, `must be > 0, got ${String(value)}`);
}
