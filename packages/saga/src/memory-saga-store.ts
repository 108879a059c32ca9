import type { MemoryTransaction, SagaListOptions, SagaRecord, SagaStatus, SagaStore } from '@omnibus/core';
import { ConcurrencyError, ConfigurationError } from '@omnibus/core';

/**
 * Saga state in memory, for tests and the demo, over `MemoryPersistence` transactions: a save is applied
 * when its transaction commits. The first of two transactions to save one instance at one version holds
 * it until it ends; the other's save fails with a `ConcurrencyError` at once (as a database's unique
 * key or version check would). Nothing survives the process.
 */
export class MemorySagaStore implements SagaStore<MemoryTransaction> {
  readonly #records = new Map<string, SagaRecord>();
  /** Instances a transaction has saved and not yet committed or rolled back. */
  readonly #pending = new Map<string, { tx: MemoryTransaction; record: SagaRecord }>();

  async load(tx: MemoryTransaction, saga: string, key: string): Promise<SagaRecord | undefined> {
    const id = idOf(saga, key);
    const pending = this.#pending.get(id);
    if (pending?.tx === tx) return pending.record;
    return this.#records.get(id);
  }

  async save(tx: MemoryTransaction, record: SagaRecord, expectedVersion: number): Promise<void> {
    if (record.version !== expectedVersion + 1) {
      throw new ConfigurationError('record.version', `must be expectedVersion + 1, got ${record.version}`);
    }
    const id = idOf(record.saga, record.key);
    const pending = this.#pending.get(id);
    const current = pending?.tx === tx ? pending.record : this.#records.get(id);
    if ((pending !== undefined && pending.tx !== tx) || (current?.version ?? 0) !== expectedVersion) {
      throw new ConcurrencyError(
        `saga ${record.saga} instance ${record.key}: version ${expectedVersion} was saved by another step`,
      );
    }
    const first = pending === undefined;
    this.#pending.set(id, { tx, record });
    if (!first) return;
    tx.onSettled((committed) => {
      const saved = this.#pending.get(id);
      this.#pending.delete(id);
      if (committed && saved !== undefined) this.#records.set(id, saved.record);
    });
  }

  async get(saga: string, key: string): Promise<SagaRecord | undefined> {
    return this.#records.get(idOf(saga, key));
  }

  async list(saga: string, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    const limit = options.limit ?? 100;
    return [...this.#records.values()]
      .filter(
        (record) =>
          record.saga === saga && (options.status === undefined || record.status === options.status),
      )
      .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime())
      .slice(0, limit);
  }

  async count(saga: string): Promise<Record<SagaStatus, number>> {
    const counts = { running: 0, completed: 0 };
    for (const record of this.#records.values()) if (record.saga === saga) counts[record.status]++;
    return counts;
  }

  async purgeCompleted(before: Date): Promise<number> {
    let purged = 0;
    for (const [id, record] of this.#records) {
      if (record.status === 'completed' && record.completedAt !== undefined && record.completedAt < before) {
        this.#records.delete(id);
        purged++;
      }
    }
    return purged;
  }
}

function idOf(saga: string, key: string): string {
  return `${saga}\u0000${key}`;
}
