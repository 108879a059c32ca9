import { expect } from 'chai';
import type { Envelope } from '../src/index.js';
import {
  ConfigurationError,
  SignatureHeader,
  signEnvelope,
  signingKeys,
  verifyEnvelope,
} from '../src/index.js';
import { attemptSealValid, sealAttempt } from '../src/transport/index.js';
import { sealTarget, sealedTarget } from '../src/signing/envelope-signature.js';

const keys = signingKeys({
  keys: { a: 'the-first-key-is-thirty-two-bytes-long', b: 'the-second-key-is-thirty-two-bytes-long' },
  signWith: 'b',
});

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    id: 'id-1',
    type: 'orders.Placed',
    key: 'o-1',
    headers: {
      specversion: '1.0',
      source: 'orders',
      datacontenttype: 'application/json',
      tenant: 't1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-custom': 'free',
    },
    body: Buffer.from('{"total":1}'),
    ...overrides,
  };
}

const code = (e: Envelope) => verifyEnvelope(e, keys)?.code;

describe('envelope signing', function () {
  it('verifies what it signed, with any of its keys', function () {
    expect(code(signEnvelope(envelope(), keys))).to.equal(undefined);
    const old = signEnvelope(envelope(), { ...keys, signWith: 'a' });
    expect(old.headers[SignatureHeader.keyId]).to.equal('a');
    expect(code(old)).to.equal(undefined);
  });

  it('refuses a change to the id, type, key, body or a signed attribute', function () {
    const signed = signEnvelope(envelope(), keys);
    const changes: Partial<Envelope>[] = [
      { id: 'id-2' },
      { type: 'orders.Cancelled' },
      { key: 'o-2' },
      { key: undefined },
      { body: Buffer.from('{"total":2}') },
      { headers: { ...signed.headers, tenant: 't2' } },
      { headers: { ...signed.headers, source: 'evil' } },
      { headers: { ...signed.headers, subject: 'added' } },
    ];
    for (const change of changes) {
      const changed = { ...signed, ...change };
      if ('key' in change && change.key === undefined) delete (changed as { key?: string }).key;
      expect(code(changed), JSON.stringify(Object.keys(change))).to.equal('SIGNATURE_INVALID');
    }
  });

  it('leaves trace context and dashed headers out, so hops and retry routes keep it valid', function () {
    const signed = signEnvelope(envelope(), keys);
    const hop = {
      ...signed,
      headers: {
        ...signed.headers,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01',
        'x-custom': 'changed',
        'omnibus-attempt': '3',
        'omnibus-error-code': 'HANDLER_ERROR',
      },
    };
    expect(code(hop)).to.equal(undefined);
  });

  it('says why it refuses: missing, unknown key, half a signature', function () {
    expect(code(envelope())).to.equal('SIGNATURE_MISSING');
    expect(verifyEnvelope(envelope(), { ...keys, required: false })).to.equal(undefined);
    const signed = signEnvelope(envelope(), keys);
    expect(code({ ...signed, headers: { ...signed.headers, [SignatureHeader.keyId]: 'z' } })).to.equal(
      'SIGNATURE_KEY_UNKNOWN',
    );
    const half = { ...signed.headers };
    delete half[SignatureHeader.signature];
    expect(code({ ...signed, headers: half })).to.equal('SIGNATURE_INVALID');
    expect(verifyEnvelope({ ...signed, headers: half }, { ...keys, required: false })?.code).to.equal(
      'SIGNATURE_INVALID',
    );
  });

  it('seals a replay target to the message and the run', function () {
    const e = envelope();
    const sealed = { ...e, headers: { ...e.headers, ...sealTarget(e, 'billing', 'run-1', keys) } };
    expect(sealedTarget(sealed, keys)).to.equal('billing');
    expect(sealedTarget(sealed, undefined), 'no keys, no target').to.equal(undefined);
    const moved = { ...sealed, headers: { ...sealed.headers, 'omnibus-target-group': 'shipping' } };
    expect(sealedTarget(moved, keys)).to.equal(undefined);
    expect(sealedTarget({ ...sealed, body: Buffer.from('x') }, keys)).to.equal(undefined);
    const forged = { ...e, headers: { ...e.headers, 'omnibus-target-group': 'billing' } };
    expect(sealedTarget(forged, keys)).to.equal(undefined);
  });

  it('seals an attempt count to the message, the queue and the number', function () {
    const seal = sealAttempt('id-1', 'q', 3, keys);
    expect(attemptSealValid('id-1', 'q', 3, seal, keys)).to.equal(true);
    expect(attemptSealValid('id-1', 'q', 4, seal, keys)).to.equal(false);
    expect(attemptSealValid('id-1', 'other', 3, seal, keys)).to.equal(false);
    expect(attemptSealValid('id-2', 'q', 3, seal, keys)).to.equal(false);
    expect(attemptSealValid('id-1', 'q', 3, undefined, keys)).to.equal(false);
    expect(attemptSealValid('id-1', 'q', 3, 'z:abc', keys)).to.equal(false);
  });

  it('validates its options, naming the field', function () {
    const cases: [unknown, string][] = [
      [{ keys: { a: 'short' }, signWith: 'a' }, 'signing.keys.a'],
      [{ keys: { 'bad id': 'x'.repeat(32) }, signWith: 'bad id' }, 'signing.keys.bad id'],
      [{ keys: { a: 'x'.repeat(32) }, signWith: 'b' }, 'signing.signWith'],
      [{ keys: { a: 'x'.repeat(32) }, signWith: 'a', required: 'yes' }, 'signing.required'],
      [{ signWith: 'a' }, 'signing.keys'],
    ];
    for (const [options, field] of cases) {
      expect(() => signingKeys(options as never))
        .to.throw(ConfigurationError)
        .with.property('field', field);
    }
  });
});
