import type { Envelope } from '../envelope.js';
import { CLOUDEVENTS_SPEC_VERSION, Header } from '../envelope.js';
import { ConfigurationError, toOmnibusError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { writeSpanContext } from '../telemetry/trace-context.js';
import type { Transport } from '../transport.js';
import { uuidv7 } from '../uuid.js';
import type { RemoteFailure } from './reply-headers.js';
import { ReplyHeader, replyTypeOf } from './reply-headers.js';
import { supportsReplies } from './reply-transport.js';

const JSON_CONTENT_TYPE = 'application/json';
const encoder = new TextEncoder();

export interface ResponderOptions {
  readonly transport: Transport;
  readonly serviceName: string;
  readonly logger: Logger;
  /** Put the handler's stack into error replies (off by default: a stack tells a caller about our code). */
  readonly includeStack: boolean;
  /** Counts replies that could not be sent (see `BusStats.undeliveredReplies`). */
  readonly counters: { undeliveredReplies: number };
  /** Where the reply's `send` span and metrics go. */
  readonly telemetry: Telemetry;
}

/**
 * The answering side of request/reply: turns what a query handler returned, or threw, into a reply to
 * the request's reply address. It never throws: a reply that cannot be sent (the caller is gone, the
 * address is not a reply address, the broker refuses) is logged and counted, and the caller times out.
 */
export class Responder {
  readonly #options: ResponderOptions;

  constructor(options: ResponderOptions) {
    this.#options = options;
  }

  /** Whether `request` asks for a reply (a query published by `bus.request`). */
  wantsReply(request: Envelope): boolean {
    return request.headers[ReplyHeader.replyTo] !== undefined;
  }

  reply(request: Envelope, result: unknown): Promise<void> {
    let body: Uint8Array;
    try {
      body = encoder.encode(JSON.stringify(result ?? null));
    } catch (error) {
      return this.fail(request, error);
    }
    return this.#send(request, 'ok', body);
  }

  fail(request: Envelope, thrown: unknown): Promise<void> {
    const error = toOmnibusError(thrown);
    const failure: RemoteFailure = {
      code: error.code,
      message: error.message,
      retriable: error.retriable,
      ...(this.#options.includeStack && error.stack !== undefined ? { stack: error.stack } : {}),
    };
    return this.#send(request, 'error', encoder.encode(JSON.stringify(failure)));
  }

  async #send(request: Envelope, status: 'ok' | 'error', body: Uint8Array): Promise<void> {
    const address = request.headers[ReplyHeader.replyTo]!;
    const transport = this.#options.transport;
    const reply: Envelope = {
      id: uuidv7(),
      type: replyTypeOf(request.type),
      headers: {
        [Header.specVersion]: CLOUDEVENTS_SPEC_VERSION,
        [Header.source]: this.#options.serviceName,
        [Header.time]: new Date().toISOString(),
        [Header.contentType]: JSON_CONTENT_TYPE,
        [Header.correlationId]: request.headers[Header.correlationId] ?? request.id,
        [Header.causationId]: request.id,
        [ReplyHeader.inReplyTo]: request.id,
        [ReplyHeader.status]: status,
        ...(request.headers[Header.traceParent] === undefined
          ? {}
          : { [Header.traceParent]: request.headers[Header.traceParent] }),
      },
      body,
    };
    const sending = this.#options.telemetry.sendReply(address, request);
    sending.describe(reply);
    if (sending.creationContext !== undefined) writeSpanContext(reply.headers, sending.creationContext);
    try {
      await sending.settle(
        supportsReplies(transport)
          ? transport.publishReply(address, reply)
          : Promise.reject(
              new ConfigurationError('transport', `${transport.name} does not support request/reply`),
            ),
      );
    } catch (error) {
      this.#options.counters.undeliveredReplies++;
      const failure = toOmnibusError(error);
      this.#options.logger.warn(
        { requestId: request.id, type: request.type, address, code: failure.code, error: failure.message },
        'reply not delivered',
      );
    }
  }
}
