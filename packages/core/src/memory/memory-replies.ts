import type { Envelope } from '../envelope.js';
import { TransportError } from '../errors.js';
import type { ReplyAddress, ReplySink } from '../request-reply/reply-transport.js';
import { uuidv7 } from '../uuid.js';

const PREFIX = 'memory-reply:';

/**
 * Reply addresses of the embedded broker: direct, a sink per address in this transport. A reply is
 * handed over on a later microtask, as a broker would, never inside the publisher's call.
 */
export class MemoryReplies {
  readonly #sinks = new Map<string, ReplySink>();

  open(sink: ReplySink): ReplyAddress {
    const address = `${PREFIX}${uuidv7()}`;
    this.#sinks.set(address, sink);
    return {
      address,
      close: async () => {
        this.#sinks.delete(address);
      },
    };
  }

  publish(address: string, reply: Envelope): Promise<void> {
    if (typeof address !== 'string' || !address.startsWith(PREFIX)) {
      return Promise.reject(
        new TransportError(`${JSON.stringify(address)} is not a reply address`, {
          code: 'INVALID_REPLY_ADDRESS',
          retriable: false,
        }),
      );
    }
    const sink = this.#sinks.get(address);
    if (sink === undefined) {
      return Promise.reject(
        new TransportError(`reply address ${address} is closed`, {
          code: 'REPLY_ADDRESS_GONE',
          retriable: false,
        }),
      );
    }
    queueMicrotask(() => sink(reply));
    return Promise.resolve();
  }

  clear(): void {
    this.#sinks.clear();
  }
}
