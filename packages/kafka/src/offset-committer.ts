import type { OffsetCommit } from './kafka-client.js';
import type { CommitPosition, PartitionTracker, TrackedRecord } from './partition-tracker.js';

/**
 * Commits the positions of the partition trackers: at most every `intervalMs` while records settle, at
 * once on `flush` (close, rebalance); one commit at a time, each carrying every partition whose position
 * or settled set moved since the last successful commit. A failed commit (usually a rebalance) is tried
 * again with the next one; a partition that was forgotten is never committed again.
 */
export class OffsetCommitter {
  readonly #committed = new Map<string, CommitPosition>();
  #timer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
  #dirty = false;
  #stopped = false;

  constructor(
    private readonly trackers: () => Iterable<[string, PartitionTracker<TrackedRecord>]>,
    private readonly commit: (offsets: OffsetCommit[]) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs: number,
  ) {}

  /** Something settled: commit within `intervalMs`. */
  schedule(): void {
    this.#dirty = true;
    if (this.#stopped || this.#timer !== undefined || this.#committing !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.intervalMs);
  }

  /** Commits now (after the commit in flight); resolves once done or failed. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#committing !== undefined) {
      this.#dirty = true;
      return this.#committing.then(() => this.flush());
    }
    const committing = this.#commitOnce().finally(() => {
      this.#committing = undefined;
      if (this.#dirty) this.schedule();
    });
    this.#committing = committing;
    return committing;
  }

  /** The partition was revoked: forget what was committed for it. */
  forget(key: string): void {
    this.#committed.delete(key);
  }

  /** No more scheduled commits (closing); `flush` still works. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #commitOnce(): Promise<void> {
    this.#dirty = false;
    const changes: { key: string; commit: OffsetCommit; position: CommitPosition }[] = [];
    for (const [key, tracker] of this.trackers()) {
      const position = tracker.commitPosition();
      if (position === undefined) continue;
      const last = this.#committed.get(key);
      if (last?.offset === position.offset && last.metadata === position.metadata) continue;
      changes.push({
        key,
        position,
        commit: {
          topic: tracker.topic,
          partition: tracker.partition,
          offset: position.offset,
          metadata: position.metadata === '' ? null : position.metadata,
        },
      });
    }
    if (changes.length === 0) return;
    try {
      await this.commit(changes.map((change) => change.commit));
      for (const { key, position } of changes) this.#committed.set(key, position);
    } catch (error) {
      this.#dirty = true;
      this.onError(error);
    }
  }
}
