import { expect } from 'chai';

/**
 * The package's public surface, by name: a change to it is deliberate, and shows here. Types are not
 * listed (they leave nothing at run time); the value exports are.
 */
describe('@omnibus/cli exports', function () {
  it('@omnibus/cli exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/cli')).sort()).to.deep.equal([
      'CONFIG_FILES',
      'EXIT_FAILURE',
      'EXIT_NOTHING',
      'EXIT_OK',
      'EXIT_USAGE',
      'TRANSPORTS',
      'UsageError',
      'commandGroups',
      'loadToolConfig',
      'readToolConfig',
      'run',
      'transportFromConfig',
    ]);
  });
});
