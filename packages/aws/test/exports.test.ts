import { expect } from 'chai';

// The package's public surface, on purpose: a change here is a change to the API users see.
describe('@omnibus/aws exports', function () {
  it('exports exactly the names an application configures', async function () {
    expect(Object.keys(await import('@omnibus/aws')).sort()).to.deep.equal(['AwsNames', 'SqsSnsTransport']);
  });
});
