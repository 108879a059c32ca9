import { expect } from 'chai';
import { Header } from '@omnibus/core';
import { decodeMessage, encodeEnvelope } from '../src/nats-codec.js';

describe('the NATS codec', function () {
  it('escapes line breaks in header values (a dead letter stack), which NATS headers cannot carry', function () {
    const stack = 'NonRetriableError: invalid amount\n    at process (payment-handlers.js:1:1)\r\n    at x';
    const encoded = encodeEnvelope({
      id: 'm1',
      type: 't.Happened',
      headers: { [Header.contentType]: 'application/json', [Header.errorStack]: stack },
      body: new Uint8Array([123, 125]),
    });
    const decoded = decodeMessage(encoded.headers, encoded.data);
    expect(decoded.headers[Header.errorStack]).to.equal(
      'NonRetriableError: invalid amount\\n    at process (payment-handlers.js:1:1)\\n    at x',
    );
  });
});
