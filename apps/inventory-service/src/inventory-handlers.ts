import type { MessageContext } from '@omnibus/core';
import { Handle, OmnibusError, Subscriber } from '@omnibus/core';
import type { ReleaseStockV1, ReserveStockV1, SampleDatabase, StockItem } from '@omnibus/sample-kit';
import { ReleaseStock, ReserveStock, StockRejected, StockReleased, StockReserved } from '@omnibus/sample-kit';

type ReservationStatus = 'held' | 'rejected' | 'released';

/**
 * The inventory's command handlers. Each runs in the unit of work with the inbox, so a redelivered
 * command is acked without running again; a reservation id seen before (the same command sent twice)
 * answers as the first time did. Stock is changed by conditional updates, so concurrent reservations
 * (several instances on PostgreSQL) never oversell: one that loses the race retries with fresh stock.
 */
@Subscriber({ group: 'inventory-service' })
export class InventoryHandlers {
  constructor(private readonly db: SampleDatabase) {}

  @Handle(ReserveStock)
  async reserve(cmd: ReserveStockV1, ctx: MessageContext): Promise<void> {
    const p = this.db.prefix;
    const [seen] = await this.db.all<{ status: ReservationStatus }>(
      ctx.tx,
      `SELECT status FROM ${p}reservations WHERE reservation_id = ?`,
      [cmd.reservationId],
    );
    const items = merged(cmd.items);
    if (seen !== undefined) {
      if (seen.status === 'held') await this.reserved(ctx, cmd, items);
      return;
    }
    const shortages = [];
    for (const item of items) {
      const [row] = await this.db.all<{ available: number }>(
        ctx.tx,
        `SELECT available FROM ${p}stock WHERE sku = ?`,
        [item.sku],
      );
      const available = Number(row?.available ?? 0);
      if (available < item.quantity) shortages.push({ sku: item.sku, requested: item.quantity, available });
    }
    if (shortages.length > 0) {
      await this.record(ctx, cmd, items, 'rejected');
      await ctx.publish(StockRejected, {
        reservationId: cmd.reservationId,
        orderId: cmd.orderId,
        shortages,
        rejectedAt: new Date(),
      });
      return;
    }
    for (const item of items) {
      const changed = await this.db.run(
        ctx.tx,
        `UPDATE ${p}stock SET available = available - ?, reserved = reserved + ? WHERE sku = ? AND available >= ?`,
        [item.quantity, item.quantity, item.sku, item.quantity],
      );
      if (changed !== 1) {
        throw new OmnibusError(`stock of ${item.sku} changed while reserving; retrying`, {
          code: 'STOCK_CONTENDED',
          retriable: true,
        });
      }
    }
    await this.record(ctx, cmd, items, 'held');
    await this.reserved(ctx, cmd, items);
  }

  @Handle(ReleaseStock)
  async release(cmd: ReleaseStockV1, ctx: MessageContext): Promise<void> {
    const p = this.db.prefix;
    const [held] = await this.db.all<{ items: string }>(
      ctx.tx,
      `SELECT items FROM ${p}reservations WHERE reservation_id = ? AND status = 'held'`,
      [cmd.reservationId],
    );
    if (held === undefined) return; // never held, or released already: nothing to give back
    const items = JSON.parse(held.items) as StockItem[];
    for (const item of items) {
      await this.db.run(
        ctx.tx,
        `UPDATE ${p}stock SET available = available + ?, reserved = reserved - ? WHERE sku = ?`,
        [item.quantity, item.quantity, item.sku],
      );
    }
    await this.db.run(ctx.tx, `UPDATE ${p}reservations SET status = 'released' WHERE reservation_id = ?`, [
      cmd.reservationId,
    ]);
    await ctx.publish(StockReleased, {
      reservationId: cmd.reservationId,
      orderId: cmd.orderId,
      items,
      releasedAt: new Date(),
    });
  }

  private async record(
    ctx: MessageContext,
    cmd: ReserveStockV1,
    items: StockItem[],
    status: ReservationStatus,
  ): Promise<void> {
    await this.db.run(
      ctx.tx,
      `INSERT INTO ${this.db.prefix}reservations (reservation_id, order_id, items, status) VALUES (?, ?, ?, ?)`,
      [cmd.reservationId, cmd.orderId, JSON.stringify(items), status],
    );
  }

  private async reserved(ctx: MessageContext, cmd: ReserveStockV1, items: StockItem[]): Promise<void> {
    await ctx.publish(StockReserved, {
      reservationId: cmd.reservationId,
      orderId: cmd.orderId,
      items,
      expiresAt: null,
      reservedAt: new Date(),
    });
  }
}

/** One item per SKU, quantities added. */
function merged(items: readonly StockItem[]): StockItem[] {
  const bySku = new Map<string, number>();
  for (const item of items) bySku.set(item.sku, (bySku.get(item.sku) ?? 0) + item.quantity);
  return [...bySku].map(([sku, quantity]) => ({ sku, quantity }));
}
