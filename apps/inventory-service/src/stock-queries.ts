import type { MessageContext } from '@omnibus/core';
import { Handle, NonRetriableError, Subscriber } from '@omnibus/core';
import type { GetStockV1, SampleDatabase, StockLevelV1 } from '@omnibus/sample-kit';
import { GetStock } from '@omnibus/sample-kit';

/**
 * The inventory's answers: `GetStock` from its stock table. An unknown SKU is a remote error coded
 * `UNKNOWN_SKU` (the asking service turns it into a 404).
 */
@Subscriber({ group: 'inventory-service' })
export class StockQueries {
  constructor(private readonly db: SampleDatabase) {}

  @Handle(GetStock)
  async stock(query: GetStockV1, ctx: MessageContext): Promise<StockLevelV1> {
    const [row] = await this.db.all<{ available: number; reserved: number }>(
      ctx.tx,
      `SELECT available, reserved FROM ${this.db.prefix}stock WHERE sku = ?`,
      [query.sku],
    );
    if (row === undefined) throw new NonRetriableError(`no such sku ${query.sku}`, { code: 'UNKNOWN_SKU' });
    return { sku: query.sku, available: Number(row.available), reserved: Number(row.reserved) };
  }
}
