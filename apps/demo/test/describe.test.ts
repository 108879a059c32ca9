import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describeDemo } from '../src/describe-demo.js';

describe('npm start -- --describe', function () {
  this.timeout(30_000);

  it('explains each service’s bus: handlers with group, source, middleware, retry and timeout, then the topology', async function () {
    const text = await describeDemo();
    for (const service of ['order-service', 'inventory-service', 'payment-service']) {
      expect(text).to.include(`${service} on MemoryTransport, persistence SqlitePersistence`);
    }
    expect(text).to.include('orders.OrderPlaced (event) → OrderFulfilmentHandlers.step:orders.OrderPlaced');
    expect(text).to.include(
      'group order-fulfilment, from subscription orders/order-fulfilment, concurrency 16',
    );
    expect(text).to.match(/middleware: correlation → .*unit of work → handler/);
    expect(text).to.match(/retry: \d+ attempts, \d+ immediate, backoff /);
    expect(text).to.include('timeout: ');
    expect(text).to.include('Topology provisioned at start:');
    expect(text).to.include('subscription orders/order-fulfilment: orders.OrderPlaced');
  });

  it('is what the demo prints with --describe, without running it', async function () {
    const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [main, '--describe']);
    expect(stdout).to.include('Handlers (');
    expect(stdout).to.include('Topology provisioned at start:');
    expect(stdout).not.to.include('Consistent:');
  });
});
