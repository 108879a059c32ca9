import { expect } from 'chai';

// The package's public surface, on purpose: a change here is a change to the API users see.
describe('@omnibus/rabbitmq exports', function () {
  it('exports exactly the names an application configures', async function () {
    expect(Object.keys(await import('@omnibus/rabbitmq')).sort()).to.deep.equal([
      'DEFAULT_RABBITMQ_URL',
      'RabbitMqNames',
      'RabbitMqTransport',
    ]);
  });
});
