import { createRequire } from 'node:module';
import type * as Chai from 'chai';
import { OmnibusError } from '../errors.js';

type Expect = typeof Chai.expect;

const require = createRequire(import.meta.url);
let chai: typeof Chai | undefined;

function load(): typeof Chai {
  if (chai !== undefined) return chai;
  try {
    chai = require('chai') as typeof Chai;
  } catch (error) {
    throw new OmnibusError(
      'the conformance suites of @omnibus/core/testing assert with chai: npm install -D chai',
      {
        code: 'TESTING_PEER_MISSING',
        retriable: false,
        cause: error,
      },
    );
  }
  return chai;
}

/**
 * chai's `expect`, loaded on the first assertion. chai is an optional peer: importing `waitFor` or
 * `uniqueName` from `@omnibus/core/testing` must work where it is not installed, and only the suites that
 * assert need it. (`require` of an ES module is synchronous on the Node versions we support.)
 */
export const expect: Expect = new Proxy(function () {} as unknown as Expect, {
  apply: (_target, _this, args: [unknown, string?]) => load().expect(...args),
  get: (_target, property) => Reflect.get(load().expect, property) as unknown,
});
