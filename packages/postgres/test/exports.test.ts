import { expect } from 'chai';

/**
 * The package's public surface, by name: a change to it is deliberate, and shows here. Types are not
 * listed (they leave nothing at run time); the value exports are.
 */
describe('@omnibus/postgres exports', function () {
  it('@omnibus/postgres exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/postgres')).sort()).to.deep.equal([
      'PostgresInbox',
      'PostgresOutbox',
      'PostgresPersistence',
      'PostgresSagaStore',
      'PostgresScheduleStore',
      'PostgresSchema',
      'PostgresUnitOfWork',
      'applyPostgresMigrations',
      'coalesceWrites',
      'migrate',
      'outboxInboxMigrations',
      'sagaMigrations',
      'scheduleMigrations',
    ]);
  });
});
