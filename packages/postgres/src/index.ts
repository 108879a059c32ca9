export {
  migrate,
  PostgresPersistence,
  type PostgresConnectionOptions,
  type PostgresPersistenceOptions,
} from './postgres-persistence.js';
export { PostgresUnitOfWork } from './postgres-unit-of-work.js';
export { coalesceWrites } from './postgres-write-coalescing.js';
export { PostgresInbox } from './postgres-inbox.js';
export { PostgresOutbox } from './postgres-outbox.js';
export { PostgresSchema } from './postgres-schema.js';
export {
  applyPostgresMigrations,
  outboxInboxMigrations,
  type PostgresMigration,
} from './postgres-migrations.js';
export { PostgresSagaStore, sagaMigrations } from './postgres-saga-store.js';
export { PostgresScheduleStore, scheduleMigrations } from './postgres-schedule-store.js';
