import type { DatabaseSync } from 'node:sqlite';

/** One versioned schema change. Versions of a component are applied in order, each exactly once. */
export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The outbox and inbox tables. Times are Unix milliseconds. */
export const outboxInboxMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'outbox and inbox',
    sql: `
      CREATE TABLE omnibus_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        message_key TEXT,
        type TEXT NOT NULL,
        headers TEXT NOT NULL,
        body BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        published_at INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until INTEGER,
        failed_at INTEGER,
        last_error TEXT
      );
      CREATE INDEX omnibus_outbox_key ON omnibus_outbox (destination, message_key, id)
        WHERE published_at IS NULL AND failed_at IS NULL;
      CREATE INDEX omnibus_outbox_published ON omnibus_outbox (published_at)
        WHERE published_at IS NOT NULL;
      CREATE TABLE omnibus_inbox (
        consumer_group TEXT NOT NULL,
        message_id TEXT NOT NULL,
        handled_at INTEGER NOT NULL,
        PRIMARY KEY (consumer_group, message_id)
      ) WITHOUT ROWID;
      CREATE INDEX omnibus_inbox_handled_at ON omnibus_inbox (handled_at);
    `,
  },
];

/**
 * Applies the `component`'s migrations that the database lacks, in one `BEGIN IMMEDIATE` transaction:
 * several processes may start at once; the first takes the write lock and migrates, the others wait for
 * it (busy timeout) and then find nothing to do. Returns the names applied.
 */
export function applySqliteMigrations(
  database: DatabaseSync,
  component: string,
  migrations: readonly SqliteMigration[],
): string[] {
  database.exec('BEGIN IMMEDIATE');
  try {
    database.exec(`CREATE TABLE IF NOT EXISTS omnibus_migrations (
      component TEXT NOT NULL,
      version INTEGER NOT NULL,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL,
      PRIMARY KEY (component, version)
    )`);
    const applied = new Set(
      database
        .prepare('SELECT version FROM omnibus_migrations WHERE component = ?')
        .all(component)
        .map((row) => Number(row.version)),
    );
    const record = database.prepare(
      'INSERT INTO omnibus_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)',
    );
    const names: string[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      database.exec(migration.sql);
      record.run(component, migration.version, migration.name, Date.now());
      names.push(migration.name);
    }
    database.exec('COMMIT');
    return names;
  } catch (error) {
    if (database.isTransaction) database.exec('ROLLBACK');
    throw error;
  }
}
