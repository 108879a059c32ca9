import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { Persistence, SagaStore } from '@omnibus/core';
import { applyPostgresMigrations, PostgresPersistence, PostgresSagaStore } from '@omnibus/postgres';
import { applySqliteMigrations, SqlitePersistence, SqliteSagaStore } from '@omnibus/sqlite';
import type { PoolClient } from 'pg';
import type { DatabaseConfig } from './sample-config.js';

export type SqlValue = string | number | null;

/**
 * A service's own table definitions, applied once per database like the framework's (versioned, safe
 * from several processes at once). `sql` gets the table prefix: `""` on SQLite, `"schema".` on PostgreSQL.
 */
export interface ServiceMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: (prefix: string) => string;
}

/**
 * One service's database: the framework's persistence (outbox, inbox, sagas) and the service's tables
 * side by side, so a handler's writes commit with its inbox record and outgoing messages. SQL is written
 * once for both engines: `?` placeholders, `ON CONFLICT`, integer cents, text timestamps in ISO form.
 */
export class SampleDatabase {
  readonly persistence: Persistence & { start(): Promise<void>; close(): Promise<void> };
  readonly sagaStore: SagaStore;
  /** Prefix of the service's table names: `""` or `"schema".`. */
  readonly prefix: string;
  readonly #config: DatabaseConfig;
  readonly #component: string;
  readonly #migrations: readonly ServiceMigration[];

  constructor(config: DatabaseConfig, component: string, migrations: readonly ServiceMigration[]) {
    this.#config = config;
    this.#component = component;
    this.#migrations = migrations;
    if (config.kind === 'sqlite') {
      const persistence = new SqlitePersistence({ path: config.path });
      // WAL with synchronous=NORMAL: a commit survives the process being killed (what the sample
      // demonstrates) but not a power cut, and costs no fsync; the sample commits several times per order.
      persistence.database.exec('PRAGMA synchronous = NORMAL');
      this.persistence = persistence;
      this.sagaStore = new SqliteSagaStore(persistence);
      this.prefix = '';
    } else {
      const persistence = new PostgresPersistence({ connectionString: config.url, schema: config.schema });
      this.persistence = persistence;
      this.sagaStore = new PostgresSagaStore(persistence);
      this.prefix = `${persistence.schema.quoted}.`;
    }
  }

  /** Migrates the framework's tables, the saga table and the service's, in that order. */
  async start(): Promise<void> {
    await this.persistence.start();
    await (this.sagaStore as SqliteSagaStore | PostgresSagaStore).start();
    if (this.persistence instanceof SqlitePersistence) {
      const database = this.persistence.database;
      await this.persistence.unitOfWork.read('migrate', () =>
        applySqliteMigrations(
          database,
          this.#component,
          this.#migrations.map((m) => ({ version: m.version, name: m.name, sql: m.sql('') })),
        ),
      );
    } else {
      const persistence = this.persistence as PostgresPersistence;
      const client = await persistence.pool.connect();
      try {
        await applyPostgresMigrations(
          client,
          persistence.schema,
          this.#component,
          this.#migrations.map((m) => ({ version: m.version, name: m.name, sql: () => m.sql(this.prefix) })),
        );
      } finally {
        client.release();
      }
    }
  }

  close(): Promise<void> {
    return this.persistence.close();
  }

  /** Runs a statement in `tx`, a unit of work's transaction (`ctx.tx`); returns how many rows it changed. */
  async run(tx: unknown, sql: string, params: readonly SqlValue[] = []): Promise<number> {
    if (this.#config.kind === 'sqlite') {
      return Number((tx as DatabaseSync).prepare(sql).run(...(params as SQLInputValue[])).changes);
    }
    return (await (tx as PoolClient).query(numbered(sql), [...params])).rowCount ?? 0;
  }

  /** Rows of a query in `tx`. */
  async all<T>(tx: unknown, sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    if (this.#config.kind === 'sqlite') {
      return (tx as DatabaseSync).prepare(sql).all(...(params as SQLInputValue[])) as T[];
    }
    return (await (tx as PoolClient).query(numbered(sql), [...params])).rows as T[];
  }

  /** Rows of a query outside any unit of work (it takes its turn on SQLite's one connection). */
  async query<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    if (this.persistence instanceof SqlitePersistence) {
      return this.persistence.unitOfWork.read('query', (database) =>
        database.prepare(sql).all(...(params as SQLInputValue[])),
      ) as Promise<T[]>;
    }
    return (await (this.persistence as PostgresPersistence).pool.query(numbered(sql), [...params]))
      .rows as T[];
  }

  /** A unit of work of the service's own, outside any handler (no messages). */
  transaction<T>(work: (tx: unknown) => Promise<T>): Promise<T> {
    return this.persistence.unitOfWork.transaction(work);
  }
}

/** `?` placeholders → PostgreSQL's `$1, $2, ...` (the sample's SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
