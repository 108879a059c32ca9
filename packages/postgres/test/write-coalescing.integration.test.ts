import { expect } from 'chai';
import { describeIntegration } from '@omnibus/core/testing';
import pg from 'pg';
import { coalesceWrites } from '../src/index.js';

const url = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';

async function probe(): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The socket writes `client` makes (each a system call) while `work` runs. */
async function socketWrites(client: pg.PoolClient, work: () => Promise<unknown>): Promise<number> {
  const socket = (client as unknown as { connection: { stream: Record<string, unknown> } }).connection.stream;
  let writes = 0;
  const restore: (() => void)[] = [];
  for (const name of ['_write', '_writev']) {
    const original = socket[name] as (...args: unknown[]) => unknown;
    socket[name] = function (this: unknown, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
    restore.push(() => (socket[name] = original));
  }
  try {
    await work();
  } finally {
    for (const undo of restore) undo();
  }
  return writes;
}

describeIntegration('coalesceWrites (real PostgreSQL)', probe, function () {
  const threeQueries = (client: pg.PoolClient) =>
    Promise.all([
      client.query<{ n: number }>('SELECT 1 AS n'),
      client.query<{ n: number }>({ text: 'SELECT $1::int AS n', values: [2] }),
      client.query<{ n: number }>({
        name: 'coalesce-test-three',
        text: 'SELECT $1::int + 1 AS n',
        values: [2],
      }),
    ]);

  for (const coalesced of [true, false]) {
    it(
      coalesced
        ? 'sends the queries of one turn in one socket write, each answered in order'
        : 'without it, a pipelined pool writes once per query (the baseline the other test beats)',
      async function () {
        const made = new pg.Pool({ connectionString: url, max: 1, pipeline: true });
        const pool = coalesced ? coalesceWrites(made) : made;
        const client = await pool.connect();
        try {
          let results: pg.QueryResult<{ n: number }>[] = [];
          const writes = await socketWrites(client, async () => (results = await threeQueries(client)));
          expect(results.map((result) => result.rows[0]!.n)).to.deep.equal([1, 2, 3]);
          if (coalesced) expect(writes).to.equal(1);
          else expect(writes).to.equal(3);
        } finally {
          client.release();
          await pool.end();
        }
      },
    );
  }

  it('is applied once per pool, however often it is called', async function () {
    const pool = coalesceWrites(
      coalesceWrites(new pg.Pool({ connectionString: url, max: 1, pipeline: true })),
    );
    const client = await pool.connect();
    try {
      const writes = await socketWrites(client, () => threeQueries(client));
      expect(writes).to.equal(1);
      expect(pool.listenerCount('connect')).to.equal(1);
    } finally {
      client.release();
      await pool.end();
    }
  });
});
