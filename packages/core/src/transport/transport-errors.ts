import { TransportError } from '../errors.js';

/**
 * What every call on a closed transport rejects with (`TRANSPORT_CLOSED`, not retriable: the transport
 * will not open again).
 */
export class TransportClosedError extends TransportError {
  constructor(transportName: string) {
    super(`${transportName} transport is closed`, { code: 'TRANSPORT_CLOSED', retriable: false });
  }
}

/**
 * An envelope over the broker's size limit (`MESSAGE_TOO_LARGE`, not retriable): the outbox relay looks
 * for this code to set such a row aside. `detail` says how the size was counted where that is not the
 * envelope's own approximate size.
 */
export class MessageTooLargeError extends TransportError {
  constructor(messageId: string, size: number, limit: number, detail = '') {
    super(`message ${messageId} is ${size} bytes${detail}, over the limit of ${limit}`, {
      code: 'MESSAGE_TOO_LARGE',
      retriable: false,
    });
  }
}
