import type { CompatibilityLevel } from '@omnibus/avro';
import type { RegistryMode, RegistryStore, StoredVersion } from '../store.js';

const GLOBAL = '\u0000global';

/** A registry store in process memory: for tests, the demo, and throwaway registries. */
export class MemoryRegistryStore implements RegistryStore {
  readonly #schemas: string[] = [];
  readonly #ids = new Map<string, number>();
  readonly #versions = new Map<string, StoredVersion[]>();
  readonly #compatibility = new Map<string, CompatibilityLevel>();
  readonly #modes = new Map<string, RegistryMode>();

  async schemaId(schema: string): Promise<number | undefined> {
    return this.#ids.get(schema);
  }

  async schemaText(id: number): Promise<string | undefined> {
    return this.#schemas[id - 1];
  }

  async schemaCount(): Promise<number> {
    return this.#schemas.length;
  }

  async addSchema(schema: string): Promise<number> {
    this.#schemas.push(schema);
    const id = this.#schemas.length;
    this.#ids.set(schema, id);
    return id;
  }

  async subjects(includeDeleted: boolean): Promise<string[]> {
    return [...this.#versions]
      .filter(([, versions]) => versions.some((v) => includeDeleted || !v.deleted))
      .map(([subject]) => subject)
      .sort();
  }

  async versions(subject: string): Promise<StoredVersion[]> {
    return [...(this.#versions.get(subject) ?? [])];
  }

  async addVersion(subject: string, id: number): Promise<number> {
    const versions = this.#versions.get(subject) ?? [];
    const version = (versions.at(-1)?.version ?? 0) + 1;
    versions.push({ subject, version, id, deleted: false });
    this.#versions.set(subject, versions);
    return version;
  }

  async markDeleted(subject: string, version: number): Promise<void> {
    const versions = this.#versions.get(subject) ?? [];
    const index = versions.findIndex((v) => v.version === version);
    if (index >= 0) versions[index] = { ...versions[index]!, deleted: true };
  }

  async removeVersion(subject: string, version: number): Promise<void> {
    const versions = (this.#versions.get(subject) ?? []).filter((v) => v.version !== version);
    if (versions.length === 0) this.#versions.delete(subject);
    else this.#versions.set(subject, versions);
  }

  async getCompatibility(scope: string | null): Promise<CompatibilityLevel | undefined> {
    return this.#compatibility.get(scope ?? GLOBAL);
  }

  async setCompatibility(scope: string | null, level: CompatibilityLevel | undefined): Promise<void> {
    if (level === undefined) this.#compatibility.delete(scope ?? GLOBAL);
    else this.#compatibility.set(scope ?? GLOBAL, level);
  }

  async getMode(scope: string | null): Promise<RegistryMode | undefined> {
    return this.#modes.get(scope ?? GLOBAL);
  }

  async setMode(scope: string | null, mode: RegistryMode | undefined): Promise<void> {
    if (mode === undefined) this.#modes.delete(scope ?? GLOBAL);
    else this.#modes.set(scope ?? GLOBAL, mode);
  }

  async close(): Promise<void> {}
}
