import type { SagaListOptions, SagaRecord, SagaStatus, SagaStore } from '@omnibus/core';
import { ConcurrencyError } from '@omnibus/core';
import type { Pool, PoolClient } from 'pg';
import { persistenceError } from './postgres-errors.js';
import type { PostgresMigration } from './postgres-migrations.js';
import { applyPostgresMigrations } from './postgres-migrations.js';
import type { PostgresPersistence } from './postgres-persistence.js';

/** The saga table (component `saga`). */
export const sagaMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'saga instances',
    sql: (s) => `
      CREATE TABLE ${s}.omnibus_sagas (
        saga text NOT NULL,
        saga_key text NOT NULL,
        version integer NOT NULL,
        status text NOT NULL,
        data text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        completed_at timestamptz,
        PRIMARY KEY (saga, saga_key)
      );
      CREATE INDEX omnibus_sagas_by_status ON ${s}.omnibus_sagas (saga, status, updated_at DESC);
      CREATE INDEX omnibus_sagas_completed ON ${s}.omnibus_sagas (completed_at) WHERE completed_at IS NOT NULL;
    `,
  },
];

/**
 * Saga state in PostgreSQL, in the persistence's schema. `load` is a plain read (no row lock): steps of
 * one instance run concurrently and the version check decides. Under READ COMMITTED the `UPDATE ...
 * WHERE version = $n` of the loser waits for the winner's commit, re-reads the row and matches nothing;
 * the `INSERT ... ON CONFLICT DO NOTHING` of a second start waits likewise and inserts nothing. Either way
 * the loser gets a `ConcurrencyError` and its step is retried with fresh state.
 */
export class PostgresSagaStore implements SagaStore<PoolClient> {
  readonly #pool: Pool;
  readonly #persistence: PostgresPersistence;
  readonly #table: string;
  /** Prepared-statement names: per schema (a pool may serve several), within PostgreSQL's 63 bytes. */
  readonly #names: { load: string; insert: string; update: string };

  constructor(persistence: PostgresPersistence) {
    this.#persistence = persistence;
    this.#pool = persistence.pool;
    this.#table = `${persistence.schema.quoted}.omnibus_sagas`;
    const schema = persistence.schema.name;
    this.#names = {
      load: `omnibus-saga-load:${schema}`,
      insert: `omnibus-saga-insert:${schema}`,
      update: `omnibus-saga-update:${schema}`,
    };
  }

  /** Applies the saga migrations (safe from several processes at once); call before the bus starts. */
  async start(): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw persistenceError(error, 'connect');
    }
    try {
      await applyPostgresMigrations(client, this.#persistence.schema, 'saga', sagaMigrations);
      client.release();
    } catch (error) {
      client.release(true);
      throw persistenceError(error, 'saga migrate');
    }
  }

  async load(tx: PoolClient, saga: string, key: string): Promise<SagaRecord | undefined> {
    const result = await tx.query<Row>({
      name: this.#names.load,
      text: `SELECT ${COLUMNS} FROM ${this.#table} WHERE saga = $1 AND saga_key = $2`,
      values: [saga, key],
    });
    const row = result.rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  async save(tx: PoolClient, record: SagaRecord, expectedVersion: number): Promise<void> {
    const result =
      expectedVersion === 0
        ? await tx.query({
            name: this.#names.insert,
            text: `INSERT INTO ${this.#table} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
              ON CONFLICT DO NOTHING`,
            values: [
              record.saga,
              record.key,
              record.version,
              record.status,
              record.data,
              record.createdAt,
              record.updatedAt,
              record.completedAt ?? null,
            ],
          })
        : await tx.query({
            name: this.#names.update,
            text: `UPDATE ${this.#table} SET version = $1, status = $2, data = $3, updated_at = $4, completed_at = $5
              WHERE saga = $6 AND saga_key = $7 AND version = $8`,
            values: [
              record.version,
              record.status,
              record.data,
              record.updatedAt,
              record.completedAt ?? null,
              record.saga,
              record.key,
              expectedVersion,
            ],
          });
    if (result.rowCount !== 1) {
      throw new ConcurrencyError(
        `saga ${record.saga} instance ${record.key}: version ${expectedVersion} was saved by another step`,
      );
    }
  }

  async get(saga: string, key: string): Promise<SagaRecord | undefined> {
    const rows = await this.#query(
      'saga get',
      `SELECT ${COLUMNS} FROM ${this.#table} WHERE saga = $1 AND saga_key = $2`,
      [saga, key],
    );
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  }

  async list(saga: string, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    const limit = options.limit ?? 100;
    const rows =
      options.status === undefined
        ? await this.#query(
            'saga list',
            `SELECT ${COLUMNS} FROM ${this.#table} WHERE saga = $1 ORDER BY updated_at DESC, saga_key LIMIT $2`,
            [saga, limit],
          )
        : await this.#query(
            'saga list',
            `SELECT ${COLUMNS} FROM ${this.#table} WHERE saga = $1 AND status = $2
              ORDER BY updated_at DESC, saga_key LIMIT $3`,
            [saga, options.status, limit],
          );
    return rows.map(toRecord);
  }

  async count(saga: string): Promise<Record<SagaStatus, number>> {
    const counts = { running: 0, completed: 0 };
    try {
      const result = await this.#pool.query<{ status: SagaStatus; n: string }>(
        `SELECT status, count(*) AS n FROM ${this.#table} WHERE saga = $1 GROUP BY status`,
        [saga],
      );
      for (const row of result.rows) counts[row.status] = Number(row.n);
    } catch (error) {
      throw persistenceError(error, 'saga count');
    }
    return counts;
  }

  async purgeCompleted(before: Date): Promise<number> {
    try {
      const result = await this.#pool.query(
        `DELETE FROM ${this.#table} WHERE completed_at IS NOT NULL AND completed_at < $1`,
        [before],
      );
      return result.rowCount ?? 0;
    } catch (error) {
      throw persistenceError(error, 'saga purge');
    }
  }

  async #query(doing: string, text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.#pool.query<Row>(text, values)).rows;
    } catch (error) {
      throw persistenceError(error, doing);
    }
  }
}

interface Row {
  saga: string;
  saga_key: string;
  version: number;
  status: string;
  data: string;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

const COLUMNS = 'saga, saga_key, version, status, data, created_at, updated_at, completed_at';

function toRecord(row: Row): SagaRecord {
  return {
    saga: row.saga,
    key: row.saga_key,
    version: Number(row.version),
    status: row.status as SagaStatus,
    data: row.data,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.completed_at === null ? {} : { completedAt: row.completed_at }),
  };
}
