export {
  migrate,
  SqlitePersistence,
  type SqliteMigrateOptions,
  type SqlitePersistenceOptions,
} from './sqlite-persistence.js';
export { SqliteSession } from './sqlite-session.js';
export { SqliteInbox } from './sqlite-inbox.js';
export { SqliteOutbox } from './sqlite-outbox.js';
export { applySqliteMigrations, outboxInboxMigrations, type SqliteMigration } from './sqlite-migrations.js';
export { SqliteSagaStore, sagaMigrations } from './sqlite-saga-store.js';
export { SqliteScheduleStore, scheduleMigrations } from './sqlite-schedule-store.js';
