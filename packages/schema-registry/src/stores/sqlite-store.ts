import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { CompatibilityLevel } from '@omnibus/avro';
import { ConfigurationError, OmnibusError } from '@omnibus/core';
import type { RegistryMode, RegistryStore, StoredVersion } from '../store.js';

/** Scope key of the registry-wide settings; subject names are never empty, so it cannot clash. */
const GLOBAL = '';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS registry_schemas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schema TEXT NOT NULL UNIQUE
  );
  CREATE TABLE IF NOT EXISTS registry_versions (
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema_id INTEGER NOT NULL REFERENCES registry_schemas (id),
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, version)
  );
  CREATE TABLE IF NOT EXISTS registry_settings (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, name)
  );
`;

/**
 * A durable registry store in one SQLite file, through `node:sqlite` (Node ≥ 22.16, no flag). Ids come
 * from an AUTOINCREMENT key, so they are never reused.
 *
 * One registry process per file, enforced: the store holds SQLite's exclusive lock for as long as it is
 * open (the registry serialises its changes in process, and two processes writing one file gave a 500
 * under concurrent registration). A second `open` of the same file fails at once with
 * `REGISTRY_STORE_LOCKED`; the lock goes with the process, even on SIGKILL.
 */
export class SqliteRegistryStore implements RegistryStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens (and creates when missing) the store at `path`; `:memory:` for a throwaway one. */
  static async open(path: string): Promise<SqliteRegistryStore> {
    if (typeof path !== 'string' || path === '') {
      throw new ConfigurationError('path', 'must be the path of the SQLite file');
    }
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(path);
    try {
      // EXCLUSIVE before the first WAL access: no shared-memory index, and the first write lock is kept.
      db.exec('PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL;');
      db.exec(`BEGIN IMMEDIATE; ${SCHEMA} COMMIT;`);
      db.exec('PRAGMA synchronous = FULL;');
    } catch (error) {
      db.close();
      if ((error as { errcode?: number }).errcode === 5 /* SQLITE_BUSY */) {
        throw new OmnibusError(
          `the registry store ${path} is open in another process: one registry process per SQLite file`,
          { code: 'REGISTRY_STORE_LOCKED', retriable: false, cause: error },
        );
      }
      throw error;
    }
    return new SqliteRegistryStore(db);
  }

  #sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  async schemaId(schema: string): Promise<number | undefined> {
    const row = this.#sql('SELECT id FROM registry_schemas WHERE schema = ?').get(schema) as
      { id: number } | undefined;
    return row?.id;
  }

  async schemaText(id: number): Promise<string | undefined> {
    const row = this.#sql('SELECT schema FROM registry_schemas WHERE id = ?').get(id) as
      { schema: string } | undefined;
    return row?.schema;
  }

  async schemaCount(): Promise<number> {
    return (this.#sql('SELECT COUNT(*) AS n FROM registry_schemas').get() as { n: number }).n;
  }

  async addSchema(schema: string): Promise<number> {
    return Number(this.#sql('INSERT INTO registry_schemas (schema) VALUES (?)').run(schema).lastInsertRowid);
  }

  async subjects(includeDeleted: boolean): Promise<string[]> {
    const rows = this.#sql(
      'SELECT DISTINCT subject FROM registry_versions WHERE deleted = 0 OR ? ORDER BY subject',
    ).all(includeDeleted ? 1 : 0) as { subject: string }[];
    return rows.map((row) => row.subject);
  }

  async versions(subject: string): Promise<StoredVersion[]> {
    const rows = this.#sql(
      'SELECT version, schema_id, deleted FROM registry_versions WHERE subject = ? ORDER BY version',
    ).all(subject) as { version: number; schema_id: number; deleted: number }[];
    return rows.map((row) => ({
      subject,
      version: row.version,
      id: row.schema_id,
      deleted: row.deleted !== 0,
    }));
  }

  async addVersion(subject: string, id: number): Promise<number> {
    const row = this.#sql(
      `INSERT INTO registry_versions (subject, version, schema_id)
       SELECT ?, COALESCE(MAX(version), 0) + 1, ? FROM registry_versions WHERE subject = ?
       RETURNING version`,
    ).get(subject, id, subject) as { version: number };
    return row.version;
  }

  async markDeleted(subject: string, version: number): Promise<void> {
    this.#sql('UPDATE registry_versions SET deleted = 1 WHERE subject = ? AND version = ?').run(
      subject,
      version,
    );
  }

  async removeVersion(subject: string, version: number): Promise<void> {
    this.#sql('DELETE FROM registry_versions WHERE subject = ? AND version = ?').run(subject, version);
  }

  async getCompatibility(scope: string | null): Promise<CompatibilityLevel | undefined> {
    return this.#setting(scope, 'compatibility') as CompatibilityLevel | undefined;
  }

  async setCompatibility(scope: string | null, level: CompatibilityLevel | undefined): Promise<void> {
    this.#put(scope, 'compatibility', level);
  }

  async getMode(scope: string | null): Promise<RegistryMode | undefined> {
    return this.#setting(scope, 'mode') as RegistryMode | undefined;
  }

  async setMode(scope: string | null, mode: RegistryMode | undefined): Promise<void> {
    this.#put(scope, 'mode', mode);
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  #setting(scope: string | null, name: string): string | undefined {
    const row = this.#sql('SELECT value FROM registry_settings WHERE scope = ? AND name = ?').get(
      scope ?? GLOBAL,
      name,
    ) as { value: string } | undefined;
    return row?.value;
  }

  #put(scope: string | null, name: string, value: string | undefined): void {
    if (value === undefined) {
      this.#sql('DELETE FROM registry_settings WHERE scope = ? AND name = ?').run(scope ?? GLOBAL, name);
    } else {
      this.#sql(
        'INSERT INTO registry_settings (scope, name, value) VALUES (?, ?, ?) ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value',
      ).run(scope ?? GLOBAL, name, value);
    }
  }
}
