import { expect } from 'chai';

describe('@omnibus/kafka exports', function () {
  it('exports what a user configures, nothing of the codec (change this list on purpose only)', async function () {
    const names = Object.keys(await import('@omnibus/kafka')).sort();
    expect(names).to.deep.equal(['KafkaTransport']);
  });
});
