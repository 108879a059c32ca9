import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import { startConsole } from '../src/console/console-server.js';
import { PayloadDecoder } from '../src/dead-letters/payload-decoder.js';

const base = {
  port: 0,
  deadLetters: [],
  decoder: new PayloadDecoder(undefined),
  firstWaitMs: 100,
  sagaNames: [],
  buses: {},
};

describe('omnibus console: where it listens and who may use it', function () {
  it('refuses to listen off 127.0.0.1 without a token, naming the setting', async function () {
    let error: unknown;
    await startConsole({ ...base, host: '0.0.0.0', log: () => {} }).catch(
      (caught: unknown) => (error = caught),
    );
    expect(error).to.be.instanceOf(ConfigurationError);
    expect((error as ConfigurationError).field).to.equal('console.token');
  });

  it('with a token, answers only requests that carry it (bearer or basic-auth password), and logs the others', async function () {
    const log: string[] = [];
    const running = await startConsole({ ...base, token: 's3cret', log: (line) => log.push(line) });
    try {
      expect(running.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const bare = await fetch(`${running.url}/health`);
      expect(bare.status).to.equal(401);
      expect(bare.headers.get('www-authenticate')).to.contain('Basic');
      expect(
        (await fetch(`${running.url}/health`, { headers: { authorization: 'Bearer wrong' } })).status,
      ).to.equal(401);
      expect(
        (await fetch(`${running.url}/health`, { headers: { authorization: 'Bearer s3cret' } })).status,
      ).to.equal(200);
      const basic = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;
      expect((await fetch(`${running.url}/health`, { headers: { authorization: basic } })).status).to.equal(
        200,
      );
      expect(log.filter((line) => line.includes('"refused":"unauthorized"'))).to.have.length(2);
    } finally {
      await running.close();
    }
  });

  it('acts only on a post carrying the confirmation page’s token', async function () {
    const log: string[] = [];
    const running = await startConsole({ ...base, log: (line) => log.push(line) });
    try {
      const form = new URLSearchParams({ action: 'purge-all', source: 'payments' });
      const direct = await fetch(`${running.url}/do`, { method: 'POST', body: form });
      expect(direct.status).to.equal(403);
      const confirm = await (await fetch(`${running.url}/confirm`, { method: 'POST', body: form })).text();
      expect(confirm).to.contain('Delete every dead letter of payments for good.');
      expect(confirm).to.match(/name="csrf" value="[\w-]{20,}"/);
      expect(log.some((line) => line.includes('"refused":"no confirmation token"'))).to.equal(true);
    } finally {
      await running.close();
    }
  });
});
