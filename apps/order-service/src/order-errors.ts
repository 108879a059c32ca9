import { OmnibusError } from '@omnibus/core';

/** An order the shop cannot take as sent (unknown SKU, bad quantity, no lines): HTTP 400. */
export class InvalidOrderError extends OmnibusError {
  constructor(message: string) {
    super(message, { code: 'INVALID_ORDER', retriable: false });
  }
}
