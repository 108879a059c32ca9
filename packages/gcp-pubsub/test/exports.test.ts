import { expect } from 'chai';

// The package's public surface, on purpose: a change here is a change to the API users see.
describe('@omnibus/gcp-pubsub exports', function () {
  it('exports exactly the names an application configures', async function () {
    expect(Object.keys(await import('@omnibus/gcp-pubsub')).sort()).to.deep.equal([
      'PubSubNames',
      'PubSubTransport',
    ]);
  });
});
