import { envelopeSize, type Envelope } from '../envelope.js';
import { MessageTooLargeError } from './transport-errors.js';

/**
 * Throws `MessageTooLargeError` for the first envelope whose size (body plus headers, see
 * `envelopeSize`) is over `maxMessageBytes`: a publish checks every message before sending any, so a
 * batch is refused whole rather than half sent.
 */
export function checkMessageSizes(messages: readonly Envelope[], maxMessageBytes: number): void {
  for (const envelope of messages) {
    const size = envelopeSize(envelope);
    if (size > maxMessageBytes) throw new MessageTooLargeError(envelope.id, size, maxMessageBytes);
  }
}
