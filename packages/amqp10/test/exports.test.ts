import { expect } from 'chai';

// The package's public surface, on purpose: a change here is a change to the API users see.
describe('@omnibus/amqp10 exports', function () {
  it('exports exactly the names an application configures', async function () {
    expect(Object.keys(await import('@omnibus/amqp10')).sort()).to.deep.equal([
      'Amqp10Names',
      'Amqp10Transport',
      'DEFAULT_AMQP10_URL',
    ]);
  });
});
