import type { Context } from '@opentelemetry/api';
import type { QueryContract } from '../contracts.js';
import type { Envelope } from '../envelope.js';
import { Header } from '../envelope.js';
import { ConfigurationError, DeserializationError, isOmnibusError, toOmnibusError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MessageContext, PublishOptions } from '../message-context.js';
import type { Outgoing } from '../outgoing.js';
import type { SerializerRegistry } from '../serializer.js';
import { traceRequest } from '../telemetry/request-tracing.js';
import type { Transport } from '../transport.js';
import type { ReplyCounters } from './pending-requests.js';
import { PendingRequests } from './pending-requests.js';
import type { RemoteFailure } from './reply-headers.js';
import { ReplyHeader, replyTypeOf } from './reply-headers.js';
import type { ReplyAddress } from './reply-transport.js';
import { supportsReplies } from './reply-transport.js';
import { NoResponderError, RemoteError, RequestAbortedError } from './request-errors.js';

/** How long a request waits for its reply when neither the call nor the query says. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Publish errors that mean the broker knows nothing consumes the query's queue. */
const NO_RESPONDER_CODES = new Set(['NOT_PROVISIONED', 'UNROUTABLE']);

export interface RequestOptions extends Pick<PublishOptions, 'headers' | 'key' | 'id' | 'subject'> {
  /** Give up after this long with a `TimeoutError`. Default: the query's `timeoutMs`, else 30 s. */
  readonly timeoutMs?: number;
  /** Aborting it rejects the request with `RequestAbortedError` and forgets it. */
  readonly signal?: AbortSignal;
}

/**
 * The asking side of request/reply for one bus: opens the instance's reply address on first use,
 * publishes each request with it, and settles the caller with the reply, a `RemoteError`, a
 * `TimeoutError` or a `NoResponderError`.
 */
export class Requester {
  readonly #transport: Transport;
  readonly #outgoing: Outgoing;
  readonly #serializers: SerializerRegistry;
  readonly #logger: Logger;
  readonly #pending: PendingRequests;
  #address: Promise<ReplyAddress> | undefined;
  #closed = false;

  constructor(
    transport: Transport,
    outgoing: Outgoing,
    serializers: SerializerRegistry,
    logger: Logger,
    counters: ReplyCounters,
  ) {
    this.#transport = transport;
    this.#outgoing = outgoing;
    this.#serializers = serializers;
    this.#logger = logger;
    this.#pending = new PendingRequests(counters);
  }

  /** Requests waiting for their reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /** This instance's reply address once opened (health, tests); undefined before the first request. */
  async address(): Promise<string | undefined> {
    return this.#address === undefined ? undefined : (await this.#address).address;
  }

  async request(
    contract: QueryContract,
    payload: unknown,
    options: RequestOptions | undefined,
    cause: MessageContext | undefined,
  ): Promise<unknown> {
    if (contract?.kind !== 'query')
      throw new ConfigurationError('request', 'expects a contract from defineQuery');
    return traceRequest(this.#outgoing.telemetry, contract.queue, contract.type, cause, (parent) =>
      this.#ask(contract, payload, options, cause, parent),
    );
  }

  async #ask(
    contract: QueryContract,
    payload: unknown,
    options: RequestOptions | undefined,
    cause: MessageContext | undefined,
    parent: Context,
  ): Promise<unknown> {
    const timeoutMs = options?.timeoutMs ?? contract.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(timeoutMs > 0 && Number.isFinite(timeoutMs)))
      throw new ConfigurationError('timeoutMs', `must be a finite number > 0, got ${String(timeoutMs)}`);
    const signal = options?.signal;
    if (signal?.aborted) throw aborted(contract.type)(signal.reason);
    const address = await this.#open();
    const request = await this.#outgoing.request(contract, payload, options, cause, address.address);
    const reply = this.#pending.wait(
      request.id,
      replyTypeOf(contract.type),
      timeoutMs,
      signal,
      aborted(contract.type),
    );
    // Marked handled now: a timeout may fire while the publish is still waiting for its broker.
    reply.catch(() => undefined);
    try {
      await this.#outgoing.sendRequest({ kind: 'queue', queue: contract.queue }, request, cause, parent);
    } catch (error) {
      this.#pending.cancel(request.id);
      if (isOmnibusError(error) && NO_RESPONDER_CODES.has(error.code)) {
        throw new NoResponderError(`nothing answers ${contract.type} on queue ${contract.queue}`, {
          cause: error,
        });
      }
      throw error;
    }
    return this.#decode(contract, await reply);
  }

  /** Rejects what still waits and deletes the reply address. */
  async close(reason: Error): Promise<void> {
    this.#closed = true;
    this.#pending.rejectAll(reason);
    const address = this.#address;
    this.#address = undefined;
    if (address !== undefined)
      await address.then(
        (opened) => opened.close(),
        () => undefined,
      );
  }

  #open(): Promise<ReplyAddress> {
    if (this.#closed) return Promise.reject(new ConfigurationError('request', 'the bus is stopped'));
    if (this.#address !== undefined) return this.#address;
    const transport = this.#transport;
    if (!supportsReplies(transport)) {
      return Promise.reject(
        new ConfigurationError('transport', `${transport.name} does not support request/reply`),
      );
    }
    const opening = transport.openReplies((reply) => this.#pending.deliver(reply));
    this.#address = opening;
    opening.then(
      (opened) => this.#logger.debug({ address: opened.address }, 'reply address opened'),
      () => {
        // A failed open (broker down) is tried again by the next request.
        if (this.#address === opening) this.#address = undefined;
      },
    );
    return opening;
  }

  #decode(contract: QueryContract, reply: Envelope): unknown {
    const status = reply.headers[ReplyHeader.status];
    let body: unknown;
    try {
      const serializer = this.#serializers.forContentType(reply.headers[Header.contentType]);
      body = serializer.decode(reply.body, contract);
    } catch (error) {
      throw new DeserializationError(`unreadable reply ${reply.id}`, { cause: error });
    }
    if (body instanceof Promise) throw new DeserializationError(`reply ${reply.id} is not JSON`);
    if (status === 'ok') return body;
    const failure = body as Partial<RemoteFailure> | null;
    if (status !== 'error' || typeof failure?.code !== 'string' || typeof failure.message !== 'string') {
      throw new DeserializationError(`reply ${reply.id} has no valid status or failure`, {
        cause: toOmnibusError(body),
      });
    }
    const source = reply.headers[Header.source];
    throw new RemoteError(failure.message, {
      code: failure.code,
      retriable: failure.retriable === true,
      ...(typeof failure.stack === 'string' ? { stack: failure.stack } : {}),
      ...(source === undefined ? {} : { service: source }),
    });
  }
}

function aborted(type: string): (reason: unknown) => Error {
  return (reason) => new RequestAbortedError(`request ${type} aborted`, { cause: reason });
}
