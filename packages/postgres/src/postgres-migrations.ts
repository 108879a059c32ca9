import type { ClientBase } from 'pg';
import type { PostgresSchema } from './postgres-schema.js';

/** One versioned schema change; `sql` gets the quoted schema name. */
export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: (schema: string) => string;
}

/** The outbox and inbox tables. */
export const outboxInboxMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'outbox and inbox',
    sql: (s) => `
      CREATE TABLE ${s}.omnibus_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        message_id text NOT NULL,
        destination text NOT NULL,
        message_key text,
        type text NOT NULL,
        headers jsonb NOT NULL,
        body bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        lease_owner text,
        lease_until timestamptz,
        failed_at timestamptz,
        last_error text
      );
      CREATE INDEX omnibus_outbox_pending ON ${s}.omnibus_outbox (id)
        WHERE published_at IS NULL AND failed_at IS NULL;
      CREATE INDEX omnibus_outbox_key ON ${s}.omnibus_outbox (destination, message_key, id)
        WHERE coalesce(published_at, failed_at) IS NULL;
      CREATE INDEX omnibus_outbox_published ON ${s}.omnibus_outbox (published_at)
        WHERE published_at IS NOT NULL;
      CREATE TABLE ${s}.omnibus_inbox (
        consumer_group text NOT NULL,
        message_id text NOT NULL,
        handled_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer_group, message_id)
      );
      CREATE INDEX omnibus_inbox_handled_at ON ${s}.omnibus_inbox (handled_at);
    `,
  },
];

/**
 * Applies the `component`'s migrations that `schema` lacks, in one transaction under an advisory lock
 * (per schema): several processes may start at once; one migrates, the others wait for it and find
 * nothing left to do. Creates the schema when missing. Returns the names applied.
 */
export async function applyPostgresMigrations(
  client: ClientBase,
  schema: PostgresSchema,
  component: string,
  migrations: readonly PostgresMigration[],
): Promise<string[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `omnibus:migrate:${schema.name}`,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema.quoted}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema.migrations} (
      component text NOT NULL,
      version integer NOT NULL,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version)
    )`);
    const { rows } = await client.query<{ version: number }>(
      `SELECT version FROM ${schema.migrations} WHERE component = $1`,
      [component],
    );
    const applied = new Set(rows.map((row) => row.version));
    const names: string[] = [];
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql(schema.quoted));
      await client.query(`INSERT INTO ${schema.migrations} (component, version, name) VALUES ($1, $2, $3)`, [
        component,
        migration.version,
        migration.name,
      ]);
      names.push(migration.name);
    }
    await client.query('COMMIT');
    return names;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
