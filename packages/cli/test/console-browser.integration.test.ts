import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { Bus, Handle, MemoryTransport, Subscriber, defineCommand, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { SqlitePersistence, SqliteSagaStore } from '@omnibus/sqlite';
import type { RunningConsole } from '../src/console/console-server.js';
import { startConsole } from '../src/console/console-server.js';
import { PayloadDecoder } from '../src/dead-letters/payload-decoder.js';
import { seedSagas } from './sagas-fixture.js';
import { threeSchedules } from './schedules-fixture.js';

/** Debian's Chromium (`apt-get install chromium`, as .ci/run does): no browser is downloaded. */
const CHROMIUM = process.env.OMNIBUS_CHROMIUM ?? '/usr/bin/chromium';
const images = fileURLToPath(new URL('../../../../docs/images/', import.meta.url));

const queue = uniqueName('console-orders');
const PlaceOrder = defineCommand<{ sku: string; quantity: number }>({ type: 'orders.PlaceOrder', queue });
const handled: { sku: string; quantity: number }[] = [];

class OutOfRange extends Error {}

@Subscriber({ group: 'orders' })
class OrderHandlers {
  @Handle(PlaceOrder)
  place(order: { sku: string; quantity: number }): void {
    if (order.quantity <= 0) throw new OutOfRange(`quantity must be positive, got ${order.quantity}`);
    handled.push(order);
  }
}

describeIntegration(
  'omnibus console in Chromium',
  async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  },
  function () {
    this.timeout(120_000);
    const transport = new MemoryTransport();
    const log: string[] = [];
    let bus: Bus;
    let dir: string;
    let persistence: SqlitePersistence;
    let running: RunningConsole;
    let ready: ReturnType<typeof createServer>;
    let browser: Browser;
    let page: Page;

    before(async function () {
      bus = new Bus({
        transport,
        serviceName: 'orders',
        handlers: [OrderHandlers],
        retry: { attempts: 1 },
        logger: silentLogger,
      });
      await bus.start();
      dir = await mkdtemp(join(tmpdir(), 'omnibus-console-'));
      persistence = new SqlitePersistence({ path: join(dir, 'app.db') });
      await persistence.start();
      await persistence.schedules.add(undefined, threeSchedules());
      const sagas = new SqliteSagaStore(persistence);
      await sagas.start();
      await seedSagas(sagas, persistence.unitOfWork);
      ready = createServer((_request, response) => response.end('{"status":"up"}'));
      await new Promise<void>((resolve) => ready.listen(0, '127.0.0.1', resolve));
      running = await startConsole({
        port: 0,
        transport,
        deadLetters: [{ kind: 'queue', queue }],
        decoder: new PayloadDecoder(undefined),
        firstWaitMs: 500,
        schedules: persistence.schedules,
        sagas,
        sagaNames: ['orders'],
        buses: { orders: `http://127.0.0.1:${(ready.address() as AddressInfo).port}/readyz` },
        log: (line) => log.push(line),
      });
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    });

    after(async function () {
      await browser?.close();
      await running?.close();
      ready?.close();
      await bus?.stop();
      await persistence?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('shows a poison message with its reason; edited and replayed, it is handled', async function () {
      await bus.send(PlaceOrder, { sku: 'A1', quantity: -1 });
      await waitFor(
        async () => {
          await page.goto(`${running.url}/`);
          return (await page.locator(`[data-count="${queue}"]`).textContent()) === '1';
        },
        { timeoutMs: 30_000, intervalMs: 200, message: 'the dead letter on the overview' },
      );
      await page.screenshot({ path: join(images, 'console-overview.png') });
      await page.getByRole('link', { name: queue }).click();
      expect(await page.locator('td.reason').textContent()).to.equal('quantity must be positive, got -1');
      await page.screenshot({ path: join(images, 'console-dead-letters.png') });
      await page.locator('table a').first().click();
      expect(await page.locator('#reason').textContent()).to.equal('quantity must be positive, got -1');
      expect(await page.locator('#stack').textContent()).to.contain('console-browser.integration.test');
      expect(await page.locator('#payload').textContent()).to.contain('"quantity": -1');
      await page.getByLabel('payload').fill('{ "sku": "A1", "quantity": 2 }');
      await page.screenshot({ path: join(images, 'console-dead-letter.png'), fullPage: true });
      await page.getByRole('button', { name: 'Replay edited…' }).click();
      expect(await page.locator('#confirm-what').textContent()).to.contain('with the payload below');
      expect(handled, 'nothing happens before the confirmation').to.deep.equal([]);
      await page.getByRole('button', { name: 'Confirm' }).click();
      expect(await page.getByRole('status').textContent()).to.match(/^replayed /);
      await waitFor(() => handled.length === 1, { message: 'the edited order handled' });
      expect(handled).to.deep.equal([{ sku: 'A1', quantity: 2 }]);
      expect(log.some((line) => line.includes('"action":"replay-edited"'))).to.equal(true);
    });

    it('refuses an action posted without the confirmation page’s token', async function () {
      const response = await page.request.post(`${running.url}/do`, {
        form: { action: 'cancel-schedule', id: 's-late' },
      });
      expect(response.status()).to.equal(403);
      expect(await persistence.schedules.get('s-late')).to.not.equal(undefined);
    });

    it('cancels a scheduled message after a confirmation', async function () {
      await page.goto(`${running.url}/schedules`);
      await page.screenshot({ path: join(images, 'console-schedules.png') });
      await page.locator('tr[data-schedule="s-first"]').getByRole('button', { name: 'Cancel…' }).click();
      expect(await page.locator('#confirm-what').textContent()).to.contain(
        'Cancel scheduled message s-first',
      );
      await page.getByRole('button', { name: 'Confirm' }).click();
      expect(await page.getByRole('status').textContent()).to.equal('cancelled s-first');
      expect(await page.locator('tr[data-schedule="s-first"]').count()).to.equal(0);
      expect(await persistence.schedules.get('s-first')).to.equal(undefined);
      expect(log.some((line) => line.includes('"action":"cancel-schedule"'))).to.equal(true);
    });

    it('shows a saga instance’s state, and the health of a bus', async function () {
      await page.goto(`${running.url}/sagas?status=running`);
      await page.getByRole('link', { name: 'o-1' }).click();
      expect(await page.locator('#saga-status').textContent()).to.equal('running');
      expect(await page.locator('#saga-state').textContent()).to.contain('"status": "paying"');
      const steps = await page.locator('#saga-history tr').allTextContents();
      expect(steps.slice(1).map((row) => row.replace(/\s+/g, ' ').trim())).to.deep.equal([
        '1 2026-01-01T12:00:00.000Z started orders.OrderPlaced m-1',
        '2 2026-01-01T12:01:00.000Z handled inventory.StockReserved m-2',
      ]);
      await page.screenshot({ path: join(images, 'console-saga.png') });
      await page.goto(`${running.url}/health`);
      expect(await page.locator('td.up').count()).to.equal(1);
    });
  },
);
