import { expect } from 'chai';

/**
 * The package's public surface, by name: a change to it is deliberate, and shows here. Types are not
 * listed (they leave nothing at run time); the value exports are.
 */
describe('@omnibus/schema-registry exports', function () {
  it('@omnibus/schema-registry exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/schema-registry')).sort()).to.deep.equal([
      'DEFAULT_REGISTRY_LIMITS',
      'MemoryRegistryStore',
      'SqliteRegistryStore',
      'startRegistry',
    ]);
  });
  it('@omnibus/schema-registry/testing exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/schema-registry/testing')).sort()).to.deep.equal([
      'runRegistryStoreConformance',
    ]);
  });
});
