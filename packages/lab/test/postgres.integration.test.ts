import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { expect } from 'chai';
import pg from 'pg';
import { brokerEnv } from '../src/index.js';
import { unreachable } from './unreachable.js';

// Proves the lab's PostgreSQL, with pg alone: no Omnibus code runs here.
const url = brokerEnv.postgresUrl;
const where = `${new URL(url).host}${new URL(url).pathname}`;

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  return client;
}

async function probe(): Promise<void> {
  try {
    const client = await connect();
    try {
      await client.query('select 1');
    } finally {
      await client.end();
    }
  } catch (error) {
    throw unreachable(`PostgreSQL at ${where}`, error);
  }
}

describeIntegration(`lab: PostgreSQL at ${where}`, probe, () => {
  it('uses a table as a queue: inserts one message and takes it with skip locked', async () => {
    const table = uniqueName('lab_pg').replaceAll('-', '_');
    const client = await connect();
    try {
      await client.query(`create table ${table} (id bigserial primary key, body text not null)`);
      await client.query(`insert into ${table} (body) values ($1)`, ['hello from the lab']);

      const taken = await client.query<{ body: string }>(
        `delete from ${table} where id = (select id from ${table} order by id limit 1 for update skip locked)
         returning body`,
      );

      expect(taken.rows).to.deep.equal([{ body: 'hello from the lab' }]);
      const left = await client.query<{ count: string }>(`select count(*) from ${table}`);
      expect(left.rows[0]!.count).to.equal('0');
    } finally {
      await client.query(`drop table if exists ${table}`);
      await client.end();
    }
  });

  it('delivers a NOTIFY to a LISTENing connection', async () => {
    const channel = uniqueName('lab_pg').replaceAll('-', '_');
    const listener = await connect();
    const notifier = await connect();
    try {
      const received: string[] = [];
      listener.on('notification', (notification) => {
        if (notification.channel === channel) received.push(notification.payload ?? '');
      });
      await listener.query(`listen ${channel}`);
      await notifier.query('select pg_notify($1, $2)', [channel, 'hello from the lab']);
      await waitFor(() => received.length > 0, {
        timeoutMs: 10_000,
        message: `a notification on ${channel}`,
      });

      expect(received).to.deep.equal(['hello from the lab']);
    } finally {
      await notifier.end();
      await listener.end();
    }
  });
});
