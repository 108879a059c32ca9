import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { PostgresPersistence } from '@omnibus/postgres';
import { SqliteSession } from '@omnibus/sqlite';
import type { CommandIo, OptionValues } from '../command.js';
import { UsageError } from '../command.js';
import { loadToolConfig } from '../config/tool-config.js';

/** `--postgres`, `--schema`, `--sqlite`: the database of the commands that read an application's tables. */
export const databaseOptions = {
  postgres: { type: 'string' },
  schema: { type: 'string' },
  sqlite: { type: 'string' },
} as const;

export const databaseHelp = [
  '--postgres <url>   a PostgreSQL database (default: $OMNIBUS_POSTGRES_URL when --sqlite is not given,',
  '                   else the database of omnibus.config.json / $OMNIBUS_DATABASE_URL / $OMNIBUS_SQLITE_PATH)',
  '--schema <name>    the PostgreSQL schema of the omnibus tables (default public)',
  '--sqlite <path>    a SQLite database file',
];

/** The table a command reads, and what to say when the database has none. */
export interface TableCheck {
  readonly sqliteTable: string;
  readonly postgresTable: (persistence: PostgresPersistence) => string;
  readonly missingInSqlite: (path: string) => string;
  readonly missingInPostgres: string;
}

/** One open database, holding the checked table; `close` ends it. */
export type OpenDatabase =
  | { readonly kind: 'sqlite'; readonly session: SqliteSession; close(): Promise<void> }
  | { readonly kind: 'postgres'; readonly persistence: PostgresPersistence; close(): Promise<void> };

/**
 * Opens the database the options name and checks that it holds the table, without migrating or
 * touching anything in it (the application's own settings stay the application's).
 */
export async function openDatabase(
  options: OptionValues,
  io: CommandIo,
  check: TableCheck,
): Promise<OpenDatabase> {
  let sqlite = options.sqlite as string | undefined;
  let postgres =
    (options.postgres as string | undefined) ??
    (sqlite === undefined ? io.env.OMNIBUS_POSTGRES_URL || undefined : undefined); // set but empty: not given
  let schema = options.schema as string | undefined;
  if (postgres === undefined && sqlite === undefined) {
    const configured = (await loadToolConfig(io.env, options.config as string | undefined)).database;
    if (configured?.kind === 'sqlite') sqlite = configured.path;
    if (configured?.kind === 'postgres') {
      postgres = configured.url;
      schema ??= configured.schema;
    }
  }
  if ((postgres === undefined) === (sqlite === undefined)) {
    throw new UsageError(
      'give exactly one of --postgres <url> (or $OMNIBUS_POSTGRES_URL) and --sqlite <path>',
    );
  }
  if (sqlite !== undefined) {
    if (schema !== undefined) throw new UsageError('--schema is for PostgreSQL');
    if (!existsSync(sqlite)) throw new UsageError(`no such SQLite file: ${sqlite}`);
    const database = new DatabaseSync(sqlite, { timeout: 5_000 });
    const found = database.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(check.sqliteTable);
    if (found === undefined) {
      database.close();
      throw new UsageError(check.missingInSqlite(sqlite));
    }
    const session = new SqliteSession(database);
    session.markReady();
    return {
      kind: 'sqlite',
      session,
      close: async () => {
        await session.drain();
        database.close();
      },
    };
  }
  const persistence = new PostgresPersistence({
    connectionString: postgres!,
    ...(schema === undefined ? {} : { schema }),
  });
  try {
    const { rows } = await persistence.pool.query<{ found: string | null }>(
      'SELECT to_regclass($1) AS found',
      [check.postgresTable(persistence)],
    );
    if (rows[0]?.found === null) throw new UsageError(check.missingInPostgres);
  } catch (error) {
    await persistence.close();
    throw error;
  }
  return { kind: 'postgres', persistence, close: () => persistence.close() };
}
