import { expect } from 'chai';
import type { RegistryStore } from '../store.js';

export interface RegistryStoreConformanceOptions {
  /** A new, empty store for each test. */
  readonly createStore: () => Promise<RegistryStore>;
  /** Closes `store` and opens the same data again: given for durable stores, to check durability. */
  readonly reopen?: (store: RegistryStore) => Promise<RegistryStore>;
}

/**
 * The rules every `RegistryStore` keeps (see its doc comment), as a mocha suite: call it inside a test
 * file with a factory for your store (memory, SQLite, PostgreSQL...).
 */
export function runRegistryStoreConformance(name: string, options: RegistryStoreConformanceOptions): void {
  describe(`${name} registry store conformance`, () => {
    let store: RegistryStore;

    beforeEach(async () => {
      store = await options.createStore();
    });

    afterEach(async () => {
      await store.close();
    });

    it('gives schemas growing global ids from 1 and finds them by text', async () => {
      expect(await store.schemaId('"int"')).to.equal(undefined);
      const first = await store.addSchema('"int"');
      const second = await store.addSchema('"long"');
      expect(first).to.equal(1);
      expect(second).to.equal(2);
      expect(await store.schemaId('"long"')).to.equal(2);
      expect(await store.schemaText(1)).to.equal('"int"');
      expect(await store.schemaText(3)).to.equal(undefined);
      expect(await store.schemaCount()).to.equal(2);
    });

    it('numbers versions per subject from 1, soft-deleted ones included', async () => {
      const id = await store.addSchema('"int"');
      expect(await store.addVersion('a-value', id)).to.equal(1);
      expect(await store.addVersion('a-value', id)).to.equal(2);
      expect(await store.addVersion('b-value', id)).to.equal(1);
      await store.markDeleted('a-value', 2);
      expect(await store.addVersion('a-value', id)).to.equal(3);
      expect(await store.versions('a-value')).to.deep.equal([
        { subject: 'a-value', version: 1, id, deleted: false },
        { subject: 'a-value', version: 2, id, deleted: true },
        { subject: 'a-value', version: 3, id, deleted: false },
      ]);
      expect(await store.versions('missing')).to.deep.equal([]);
    });

    it('lists subjects sorted, those with only soft-deleted versions when asked', async () => {
      const id = await store.addSchema('"int"');
      await store.addVersion('b', id);
      await store.addVersion('a', id);
      await store.markDeleted('b', 1);
      expect(await store.subjects(false)).to.deep.equal(['a']);
      expect(await store.subjects(true)).to.deep.equal(['a', 'b']);
      await store.removeVersion('b', 1);
      expect(await store.subjects(true)).to.deep.equal(['a']);
    });

    it('never reuses a schema id', async () => {
      await store.addSchema('"int"');
      const id = await store.addSchema('"long"');
      await store.addVersion('s', id);
      await store.removeVersion('s', 1);
      expect(await store.addSchema('"float"')).to.equal(3);
    });

    it('keeps global and subject settings apart, and clears them', async () => {
      await store.setCompatibility(null, 'FULL');
      await store.setCompatibility('s', 'NONE');
      await store.setMode('s', 'READONLY');
      expect(await store.getCompatibility(null)).to.equal('FULL');
      expect(await store.getCompatibility('s')).to.equal('NONE');
      expect(await store.getCompatibility('t')).to.equal(undefined);
      expect(await store.getMode(null)).to.equal(undefined);
      expect(await store.getMode('s')).to.equal('READONLY');
      await store.setCompatibility('s', 'BACKWARD_TRANSITIVE');
      expect(await store.getCompatibility('s')).to.equal('BACKWARD_TRANSITIVE');
      await store.setCompatibility('s', undefined);
      await store.setMode('s', undefined);
      expect(await store.getCompatibility('s')).to.equal(undefined);
      expect(await store.getMode('s')).to.equal(undefined);
      expect(await store.getCompatibility(null)).to.equal('FULL');
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('keeps everything across a reopen', async () => {
        const id = await store.addSchema('"int"');
        await store.addVersion('s', id);
        await store.markDeleted('s', 1);
        await store.addVersion('s', id);
        await store.setCompatibility('s', 'FULL');
        await store.setMode(null, 'READONLY');
        store = await reopen(store);
        expect(await store.schemaId('"int"')).to.equal(id);
        expect((await store.versions('s')).map((v) => [v.version, v.deleted])).to.deep.equal([
          [1, true],
          [2, false],
        ]);
        expect(await store.getCompatibility('s')).to.equal('FULL');
        expect(await store.getMode(null)).to.equal('READONLY');
        expect(await store.addSchema('"long"')).to.equal(id + 1);
      });
    }
  });
}
