import { expect } from 'chai';

/**
 * The package's public surface, by name: a change to it is deliberate, and shows here. Types are not
 * listed (they leave nothing at run time); the value exports are.
 */
describe('@omnibus/sqlite exports', function () {
  it('@omnibus/sqlite exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/sqlite')).sort()).to.deep.equal([
      'SqliteInbox',
      'SqliteOutbox',
      'SqlitePersistence',
      'SqliteSagaStore',
      'SqliteScheduleStore',
      'SqliteSession',
      'applySqliteMigrations',
      'migrate',
      'outboxInboxMigrations',
      'sagaMigrations',
      'scheduleMigrations',
    ]);
  });
});
