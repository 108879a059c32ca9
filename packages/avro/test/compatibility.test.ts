import { expect } from 'chai';
import type { CompatibilityLevel } from '../src/index.js';
import { COMPATIBILITY_LEVELS, checkCompatibility, isCompatibilityLevel } from '../src/index.js';

/** A record `t.R` with these fields. */
function record(fields: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'record', name: 'R', namespace: 't', fields, ...extra };
}
const field = (name: string, type: unknown, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  ...extra,
});
const nested = (fields: unknown[]) =>
  record([field('id', 'string'), field('inner', { type: 'record', name: 'Inner', fields })]);
const color = (symbols: string[], extra: Record<string, unknown> = {}) =>
  record([field('c', { type: 'enum', name: 'Color', symbols, ...extra })]);

interface Case {
  readonly name: string;
  readonly old: unknown;
  readonly new: unknown;
  /** New schema reads data written with the old one. */
  readonly backward: boolean;
  /** Old schema reads data written with the new one. */
  readonly forward: boolean;
}

/** The classic evolution cases; expected verdicts follow the Avro specification's resolution rules. */
const CASES: Case[] = [
  {
    name: 'identical',
    old: record([field('a', 'int')]),
    new: record([field('a', 'int')]),
    backward: true,
    forward: true,
  },
  {
    name: 'add a field with a default',
    old: record([field('a', 'int')]),
    new: record([field('a', 'int'), field('b', 'string', { default: 'x' })]),
    backward: true,
    forward: true,
  },
  {
    name: 'add a field without a default',
    old: record([field('a', 'int')]),
    new: record([field('a', 'int'), field('b', 'string')]),
    backward: false,
    forward: true,
  },
  {
    name: 'remove a field that had a default',
    old: record([field('a', 'int'), field('b', 'string', { default: 'x' })]),
    new: record([field('a', 'int')]),
    backward: true,
    forward: true,
  },
  {
    name: 'remove a field without a default',
    old: record([field('a', 'int'), field('b', 'string')]),
    new: record([field('a', 'int')]),
    backward: true,
    forward: false,
  },
  {
    name: 'int → long',
    old: record([field('a', 'int')]),
    new: record([field('a', 'long')]),
    backward: true,
    forward: false,
  },
  {
    name: 'long → float',
    old: record([field('a', 'long')]),
    new: record([field('a', 'float')]),
    backward: true,
    forward: false,
  },
  {
    name: 'float → double',
    old: record([field('a', 'float')]),
    new: record([field('a', 'double')]),
    backward: true,
    forward: false,
  },
  {
    name: 'int → double',
    old: record([field('a', 'int')]),
    new: record([field('a', 'double')]),
    backward: true,
    forward: false,
  },
  {
    name: 'long → int (narrowing)',
    old: record([field('a', 'long')]),
    new: record([field('a', 'int')]),
    backward: false,
    forward: true,
  },
  {
    name: 'double → float (narrowing)',
    old: record([field('a', 'double')]),
    new: record([field('a', 'float')]),
    backward: false,
    forward: true,
  },
  {
    name: 'string → bytes',
    old: record([field('a', 'string')]),
    new: record([field('a', 'bytes')]),
    backward: true,
    forward: true,
  },
  {
    name: 'bytes → string',
    old: record([field('a', 'bytes')]),
    new: record([field('a', 'string')]),
    backward: true,
    forward: true,
  },
  {
    name: 'string → int',
    old: record([field('a', 'string')]),
    new: record([field('a', 'int')]),
    backward: false,
    forward: false,
  },
  {
    name: 'bytes → decimal on bytes (logical types resolve as their underlying type)',
    old: record([field('a', 'bytes')]),
    new: record([field('a', { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 })]),
    backward: true,
    forward: true,
  },
  {
    name: 'enum: add a symbol',
    old: color(['RED', 'GREEN']),
    new: color(['RED', 'GREEN', 'BLUE']),
    backward: true,
    forward: false,
  },
  {
    name: 'enum: remove a symbol',
    old: color(['RED', 'GREEN', 'BLUE']),
    new: color(['RED', 'GREEN']),
    backward: false,
    forward: true,
  },
  {
    name: 'enum: add a symbol, both versions with a default',
    old: color(['UNKNOWN', 'RED'], { default: 'UNKNOWN' }),
    new: color(['UNKNOWN', 'RED', 'BLUE'], { default: 'UNKNOWN' }),
    backward: true,
    forward: true,
  },
  {
    name: 'union: add a branch',
    old: record([field('a', ['null', 'string'])]),
    new: record([field('a', ['null', 'string', 'int'])]),
    backward: true,
    forward: false,
  },
  {
    name: 'union: remove a branch',
    old: record([field('a', ['null', 'string', 'int'])]),
    new: record([field('a', ['null', 'string'])]),
    backward: false,
    forward: true,
  },
  {
    name: 'union: a type becomes nullable',
    old: record([field('a', 'string')]),
    new: record([field('a', ['null', 'string'], { default: null })]),
    backward: true,
    forward: false,
  },
  {
    name: 'union: a nullable type becomes required',
    old: record([field('a', ['null', 'string'])]),
    new: record([field('a', 'string')]),
    backward: false,
    forward: true,
  },
  {
    name: 'union: int → [null, long] (promotion into a branch)',
    old: record([field('a', 'int')]),
    new: record([field('a', ['null', 'long'])]),
    backward: true,
    forward: false,
  },
  {
    name: 'nested record: add a field without a default',
    old: nested([field('x', 'int')]),
    new: nested([field('x', 'int'), field('y', 'int')]),
    backward: false,
    forward: true,
  },
  {
    name: 'nested record: add a field with a default',
    old: nested([field('x', 'int')]),
    new: nested([field('x', 'int'), field('y', 'int', { default: 0 })]),
    backward: true,
    forward: true,
  },
  {
    name: 'nested record: int → long',
    old: nested([field('x', 'int')]),
    new: nested([field('x', 'long')]),
    backward: true,
    forward: false,
  },
  {
    name: 'array items int → long',
    old: record([field('a', { type: 'array', items: 'int' })]),
    new: record([field('a', { type: 'array', items: 'long' })]),
    backward: true,
    forward: false,
  },
  {
    name: 'map values string → int',
    old: record([field('a', { type: 'map', values: 'string' })]),
    new: record([field('a', { type: 'map', values: 'int' })]),
    backward: false,
    forward: false,
  },
  {
    name: 'rename a field with an alias',
    old: record([field('name', 'string')]),
    new: record([field('fullName', 'string', { aliases: ['name'] })]),
    backward: true,
    forward: false,
  },
  {
    name: 'rename a field without an alias',
    old: record([field('name', 'string')]),
    new: record([field('fullName', 'string')]),
    backward: false,
    forward: false,
  },
  {
    name: 'rename a record with an alias',
    old: record([field('a', 'int')]),
    new: record([field('a', 'int')], { name: 'S', aliases: ['R'] }),
    backward: true,
    forward: false,
  },
  {
    name: 'rename a record without an alias',
    old: record([field('a', 'int')]),
    new: record([field('a', 'int')], { name: 'S' }),
    backward: false,
    forward: false,
  },
  {
    name: 'change only the namespace (names compare unqualified)',
    old: record([field('a', 'int')]),
    new: record([field('a', 'int')], { namespace: 'u' }),
    backward: true,
    forward: true,
  },
  {
    name: 'fixed: change the size',
    old: record([field('a', { type: 'fixed', name: 'F', size: 16 })]),
    new: record([field('a', { type: 'fixed', name: 'F', size: 8 })]),
    backward: false,
    forward: false,
  },
  {
    name: 'recursive record: add a field with a default',
    old: { type: 'record', name: 'Node', fields: [field('v', 'int'), field('next', ['null', 'Node'])] },
    new: {
      type: 'record',
      name: 'Node',
      fields: [field('v', 'int'), field('next', ['null', 'Node']), field('w', 'int', { default: 0 })],
    },
    backward: true,
    forward: true,
  },
];

function expected(level: CompatibilityLevel, c: Case): boolean {
  if (level === 'NONE') return true;
  if (level.startsWith('BACKWARD')) return c.backward;
  if (level.startsWith('FORWARD')) return c.forward;
  return c.backward && c.forward;
}

describe('compatibility checker', () => {
  describe('the evolution table, each level', () => {
    for (const c of CASES) {
      it(c.name, () => {
        for (const level of COMPATIBILITY_LEVELS) {
          const result = checkCompatibility(
            JSON.stringify(c.new),
            [{ version: 1, schema: JSON.stringify(c.old) }],
            level,
          );
          expect(result.compatible, `${level}: ${result.messages.join('\n')}`).to.equal(expected(level, c));
          expect(result.messages.length > 0).to.equal(!result.compatible);
        }
      });
    }
  });

  describe('transitive levels check every earlier version', () => {
    it('BACKWARD passes against the latest where BACKWARD_TRANSITIVE fails against the first', () => {
      const versions = [
        { version: 1, schema: record([field('a', 'int')]) },
        { version: 2, schema: record([field('a', 'int'), field('b', 'string', { default: 'x' })]) },
      ];
      const v3 = record([field('a', 'int'), field('b', 'string')]);
      expect(checkCompatibility(v3, versions, 'BACKWARD').compatible).to.equal(true);
      const transitive = checkCompatibility(v3, versions, 'BACKWARD_TRANSITIVE');
      expect(transitive.compatible).to.equal(false);
      expect(transitive.violations.map((v) => v.version)).to.deep.equal([1]);
      expect(checkCompatibility(v3, versions, 'FULL_TRANSITIVE').compatible).to.equal(false);
    });

    it('FORWARD passes against the latest where FORWARD_TRANSITIVE fails against the first', () => {
      const versions = [
        { version: 1, schema: record([field('a', 'int'), field('b', 'int')]) },
        { version: 2, schema: record([field('a', 'int'), field('b', 'int', { default: 0 })]) },
      ];
      const v3 = record([field('a', 'int')]);
      expect(checkCompatibility(v3, versions, 'FORWARD').compatible).to.equal(true);
      const transitive = checkCompatibility(v3, versions, 'FORWARD_TRANSITIVE');
      expect(transitive.compatible).to.equal(false);
      expect(transitive.violations[0]).to.include({
        version: 1,
        direction: 'forward',
        type: 'READER_FIELD_MISSING_DEFAULT_VALUE',
      });
    });

    it('a first version is compatible with nothing before it', () => {
      expect(checkCompatibility(record([field('a', 'int')]), [], 'FULL_TRANSITIVE').compatible).to.equal(
        true,
      );
    });
  });

  describe('reasons name the field, the rule and the version', () => {
    it('a field added without a default', () => {
      const result = checkCompatibility(
        record([field('a', 'int'), field('b', 'string')]),
        [{ version: 3, schema: record([field('a', 'int')]) }],
        'BACKWARD',
      );
      expect(result.violations).to.have.length(1);
      expect(result.violations[0]).to.include({
        type: 'READER_FIELD_MISSING_DEFAULT_VALUE',
        path: 't.R.b',
        version: 3,
      });
      expect(result.messages[0])
        .to.contain("field 'b'")
        .and.contain('needs a default')
        .and.contain('version 3');
    });

    it('a nested field whose type cannot be promoted', () => {
      const result = checkCompatibility(
        nested([field('x', 'string')]),
        [{ version: 1, schema: nested([field('x', 'int')]) }],
        'BACKWARD',
      );
      expect(result.violations[0]).to.include({ type: 'TYPE_MISMATCH', path: 't.R.inner.x' });
      expect(result.messages[0]).to.contain("writer's int cannot be read as string");
    });

    it('enum symbols a reader lacks', () => {
      const result = checkCompatibility(
        color(['RED']),
        [{ version: 1, schema: color(['RED', 'BLUE']) }],
        'BACKWARD',
      );
      expect(result.violations[0]).to.include({ type: 'MISSING_ENUM_SYMBOLS', path: 't.R.c' });
      expect(result.messages[0]).to.contain('[BLUE]');
    });

    it('a union branch the reader lacks', () => {
      const result = checkCompatibility(
        record([field('a', ['null', 'string'])]),
        [{ version: 1, schema: record([field('a', ['null', 'string', 'int'])]) }],
        'BACKWARD',
      );
      expect(result.violations[0]).to.include({ type: 'MISSING_UNION_BRANCH', path: 't.R.a' });
      expect(result.messages[0]).to.contain("writer's int matches no branch");
    });

    it('a renamed record and a resized fixed', () => {
      const renamed = checkCompatibility(
        record([], { name: 'S' }),
        [{ version: 1, schema: record([]) }],
        'BACKWARD',
      );
      expect(renamed.violations[0]).to.include({ type: 'NAME_MISMATCH' });
      const resized = checkCompatibility(
        { type: 'fixed', name: 'F', size: 4 },
        [{ version: 1, schema: { type: 'fixed', name: 'F', size: 8 } }],
        'FORWARD',
      );
      expect(resized.violations[0]).to.include({ type: 'FIXED_SIZE_MISMATCH', direction: 'forward' });
    });
  });

  describe('bad input', () => {
    it('an invalid schema is a SchemaError', () => {
      expect(() => checkCompatibility('{"type":"record"}', [], 'BACKWARD'))
        .to.throw()
        .with.property('code', 'INVALID_SCHEMA');
      expect(() => checkCompatibility('not json', [], 'BACKWARD'))
        .to.throw()
        .with.property('code', 'INVALID_SCHEMA');
    });

    it('an unknown level is a ConfigurationError', () => {
      expect(isCompatibilityLevel('SIDEWAYS')).to.equal(false);
      expect(() => checkCompatibility('"int"', [], 'SIDEWAYS' as CompatibilityLevel))
        .to.throw()
        .with.property('field', 'level');
    });
  });
});
