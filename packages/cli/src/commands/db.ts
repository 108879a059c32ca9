import { migrate as migratePostgres } from '@omnibus/postgres';
import { migrate as migrateSqlite } from '@omnibus/sqlite';
import type { Command, CommandGroup, CommandIo, OptionValues } from '../command.js';
import { EXIT_OK, UsageError } from '../command.js';

const migrate: Command = {
  name: 'migrate',
  summary:
    'bring the outbox, inbox and schedule tables up to date (safe to run from several processes at once)',
  options: {
    postgres: { type: 'string' },
    schema: { type: 'string' },
    sqlite: { type: 'string' },
  },
  optionHelp: [
    '--postgres <url>   a PostgreSQL database (default: $OMNIBUS_POSTGRES_URL when --sqlite is not given)',
    '--schema <name>    the PostgreSQL schema of the omnibus tables (default public)',
    '--sqlite <path>    a SQLite database file',
  ],
  async run(options: OptionValues, io: CommandIo): Promise<number> {
    const sqlite = options.sqlite as string | undefined;
    const postgres =
      (options.postgres as string | undefined) ??
      (sqlite === undefined ? io.env.OMNIBUS_POSTGRES_URL : undefined);
    if ((postgres === undefined) === (sqlite === undefined)) {
      throw new UsageError(
        'give exactly one of --postgres <url> (or $OMNIBUS_POSTGRES_URL) and --sqlite <path>',
      );
    }
    if (sqlite !== undefined && options.schema !== undefined)
      throw new UsageError('--schema is for PostgreSQL');
    const applied =
      sqlite !== undefined
        ? await migrateSqlite({ path: sqlite })
        : await migratePostgres({
            connectionString: postgres!,
            ...(options.schema === undefined ? {} : { schema: String(options.schema) }),
          });
    io.stdout(applied.length === 0 ? 'up to date' : `applied: ${applied.join(', ')}`);
    return EXIT_OK;
  },
};

export const dbCommands: CommandGroup = {
  name: 'db',
  summary: 'the outbox, inbox and schedules database',
  commands: [migrate],
};
