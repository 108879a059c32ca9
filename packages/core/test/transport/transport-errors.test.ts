import { expect } from 'chai';
import { OmnibusError, TransportError } from '../../src/index.js';
import { MessageTooLargeError, TransportClosedError } from '../../src/transport/index.js';

describe('transport errors', function () {
  it('TransportClosedError: TRANSPORT_CLOSED, not retriable, naming the transport', function () {
    const error = new TransportClosedError('kafka');
    expect(error).to.be.instanceOf(TransportError).and.instanceOf(OmnibusError);
    expect(error.code).to.equal('TRANSPORT_CLOSED');
    expect(error.retriable).to.equal(false);
    expect(error.message).to.equal('kafka transport is closed');
  });

  it('MessageTooLargeError: MESSAGE_TOO_LARGE, not retriable, with how it was counted', function () {
    const error = new MessageTooLargeError('m-1', 300, 256, ' on the wire');
    expect(error).to.be.instanceOf(TransportError);
    expect(error.code).to.equal('MESSAGE_TOO_LARGE');
    expect(error.retriable).to.equal(false);
    expect(error.message).to.equal('message m-1 is 300 bytes on the wire, over the limit of 256');
  });
});
