import { OmnibusError, type OmnibusErrorOptions } from '../errors.js';

/** Why a message's signature was refused; the message is dead-lettered at once (not retriable). */
export type SignatureErrorCode = 'SIGNATURE_MISSING' | 'SIGNATURE_INVALID' | 'SIGNATURE_KEY_UNKNOWN';

/** A message that is unsigned where signing is required, names a key this service lacks, or was altered. */
export class SignatureError extends OmnibusError {
  constructor(message: string, code: SignatureErrorCode, options: Omit<OmnibusErrorOptions, 'code'> = {}) {
    super(message, { ...options, code, retriable: false });
  }
}
