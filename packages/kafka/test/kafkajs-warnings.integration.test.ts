import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describeIntegration } from '@omnibus/core/testing';
import { brokers, probeKafka } from './kafka-test-support.js';

const packageDir = fileURLToPath(new URL('../../', import.meta.url));

// Connects kafkajs (which arms its negative timer on every connection), then raises the application's
// own negative timeout and another warning: only kafkajs's warning may be missing from stderr.
const script = `
import { KafkaTransport } from '@omnibus/kafka';
const transport = new KafkaTransport({ client: 'kafkajs', brokers: ${JSON.stringify(brokers)}, clientId: 'warnings-test' });
await transport.connect();
await transport.health();
await transport.close();
setTimeout(() => undefined, -5);
process.emitWarning('still here', 'OtherWarning');
`;

describeIntegration('kafkajs warnings', probeKafka, () => {
  it('keeps kafkajs TimeoutNegativeWarning from the user, and no other warning', async function () {
    const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: packageDir,
      timeout: 30_000,
    });
    const negative = stderr.match(/TimeoutNegativeWarning: (-?\d+) is a negative number/g) ?? [];
    expect(negative, stderr).to.deep.equal(['TimeoutNegativeWarning: -5 is a negative number']);
    expect(stderr).to.include('OtherWarning: still here');
  });
});
