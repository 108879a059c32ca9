import type { JsMsg } from '@nats-io/jetstream';
import type { Envelope } from '@omnibus/core';
import { decodeHeaderBlock, decodeMessage } from './nats-codec.js';

/**
 * What @nats-io/jetstream and @nats-io/nats-core 3.x keep of a received message, outside their declared
 * types: the core message (`msg`), its ack subject, the bytes as received (header block, then payload)
 * and where the header block ends (`-1`: no headers).
 */
interface ReceivedMsg {
  readonly reply?: unknown;
  readonly _rdata?: Uint8Array;
  readonly _msg?: { readonly hdr?: unknown };
}

function receivedMsg(message: JsMsg): ReceivedMsg | undefined {
  return (message as unknown as { msg?: ReceivedMsg }).msg;
}

/**
 * A received message's header block as it came off the wire (`NATS/1.0\r\n…`); `null` when the message
 * has none; `undefined` when the client does not show it (then only its `headers` can be read).
 */
export function headerBlockOf(message: JsMsg): Uint8Array | null | undefined {
  const received = receivedMsg(message);
  const end = received?._msg?.hdr;
  if (typeof end !== 'number') return undefined;
  if (end < 0) return null;
  const bytes = received?._rdata;
  return bytes instanceof Uint8Array && end <= bytes.length ? bytes.subarray(0, end) : undefined;
}

/**
 * A received message's envelope, read from its header block ({@link decodeHeaderBlock}) when the client
 * shows it, else through the client's `headers` ({@link decodeMessage}: the same envelope, at several
 * times the cost).
 */
export function decodeReceived(message: JsMsg): Envelope {
  const block = headerBlockOf(message);
  if (block === undefined) return decodeMessage(message.headers, message.data);
  return decodeHeaderBlock(block ?? undefined, message.data);
}

/**
 * JetStream's delivery count, from the ack subject: `$JS.ACK.<domain>.<account>.<stream>.<consumer>.<count>.…`
 * (12 tokens), or `$JS.ACK.<stream>.<consumer>.<count>.…` (9 tokens, older servers). Read directly: the
 * client's `info` parses every field into an object, and the count is the only one wanted per message.
 */
export function deliveryCountOf(message: JsMsg): number {
  const reply = receivedMsg(message)?.reply;
  if (typeof reply === 'string') {
    const tokens = reply.split('.');
    const count = Number(tokens[tokens.length === 9 ? 4 : 6]);
    if (Number.isInteger(count) && count > 0) return count;
  }
  return message.info.deliveryCount;
}
