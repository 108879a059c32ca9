import type {
  Bus,
  HandlerClass,
  Logger,
  Middleware,
  Serializer,
  TelemetryOptions,
  Transport,
} from '@omnibus/core';
import type { SampleConfig } from '@omnibus/sample-kit';
import { SampleDatabase, createServiceBus } from '@omnibus/sample-kit';
import { InventoryHandlers } from './inventory-handlers.js';
import { StockQueries } from './stock-queries.js';
import { INITIAL_STOCK, inventoryMigrations } from './inventory-tables.js';

export interface InventoryServiceOptions {
  readonly config: SampleConfig;
  readonly avro: Serializer;
  readonly transport?: Transport;
  readonly closeTransport?: boolean;
  readonly middleware?: readonly Middleware[];
  readonly logger?: Logger;
  /** Where spans and metrics go; default the global OpenTelemetry providers (what the SDK registers). */
  readonly telemetry?: TelemetryOptions;
}

export interface StockLevel {
  readonly sku: string;
  readonly available: number;
  readonly reserved: number;
}

/**
 * The inventory service: stock in its database, `ReserveStock` and `ReleaseStock` from its queue, and the
 * answers to `GetStock` queries.
 */
export class InventoryService {
  readonly db: SampleDatabase;
  readonly bus: Bus;

  constructor(options: InventoryServiceOptions) {
    this.db = new SampleDatabase(options.config.database, options.config.service, inventoryMigrations);
    this.bus = createServiceBus({
      ...options,
      db: this.db,
      handlers: [InventoryHandlers, StockQueries],
      instances: new Map<HandlerClass, object>([
        [InventoryHandlers, new InventoryHandlers(this.db)],
        [StockQueries, new StockQueries(this.db)],
      ]),
    });
  }

  /** Migrates, stocks a new database with `INITIAL_STOCK`, starts the bus. */
  async start(): Promise<void> {
    await this.db.start();
    await this.db.transaction(async (tx) => {
      for (const [sku, available] of Object.entries(INITIAL_STOCK)) {
        await this.db.run(
          tx,
          `INSERT INTO ${this.db.prefix}stock (sku, available, reserved) VALUES (?, ?, 0) ON CONFLICT DO NOTHING`,
          [sku, available],
        );
      }
    });
    await this.bus.start();
  }

  async stop(): Promise<void> {
    await this.bus.stop();
    await this.db.close();
  }

  async stock(): Promise<StockLevel[]> {
    const rows = await this.db.query<StockLevel>(
      `SELECT sku, available, reserved FROM ${this.db.prefix}stock ORDER BY sku`,
    );
    return rows.map((row) => ({
      sku: row.sku,
      available: Number(row.available),
      reserved: Number(row.reserved),
    }));
  }
}
