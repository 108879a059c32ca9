import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describeIntegration } from '@omnibus/core/testing';
import { readBrokerEnv } from '@omnibus/lab';
import { runDemo } from '../src/index.js';

const url = readBrokerEnv().postgresUrl;

async function probe(): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  await client.end();
}

describeIntegration('the sample on PostgreSQL (OMNIBUS_DATABASE_URL)', probe, function () {
  const prefix = `s${randomBytes(3).toString('hex')}_`;

  after(async function () {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const service of ['order_service', 'inventory_service', 'payment_service']) {
      await client.query(`DROP SCHEMA IF EXISTS "${prefix}${service}" CASCADE`);
    }
    await client.end();
  });

  it('runs every path of the saga with each service in its own schema, and ends consistent', async function () {
    this.timeout(60_000);
    const result = await runDemo({ databaseUrl: url, schemaPrefix: prefix });
    expect(result.violations).to.deep.equal([]);
    expect(result.orders.map((order) => order.status).sort()).to.deep.equal([
      'cancelled',
      'cancelled',
      'confirmed',
      'confirmed',
      'rejected',
    ]);
    expect(result.ledger.filter((entry) => entry.kind === 'refund')).to.have.length(1);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM "${prefix}order_service".orders`,
    );
    await client.end();
    expect(Number(rows[0]!.n)).to.equal(5);
  });
});
