import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  Bus,
  HandlerClass,
  Logger,
  Middleware,
  Serializer,
  TelemetryOptions,
  Transport,
} from '@omnibus/core';
import { SagaRuntime } from '@omnibus/saga';
import type { SampleConfig } from '@omnibus/sample-kit';
import {
  OrderPlaced,
  SampleDatabase,
  BusTimeoutScheduler,
  createServiceBus,
  toAmount,
} from '@omnibus/sample-kit';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CATALOG, CURRENCY } from './catalog.js';
import { InvalidOrderError } from './order-errors.js';
import type { FulfilmentSettings } from './order-fulfilment-saga.js';
import { OrderFulfilment } from './order-fulfilment-saga.js';
import { orderApi } from './order-http.js';
import { OrderHistory } from './order-history.js';
import { OrderNotifier } from './order-notifier.js';
import { OrderStore } from './order-store.js';
import { orderMigrations } from './order-tables.js';

export interface OrderServiceOptions {
  readonly config: SampleConfig;
  readonly avro: Serializer;
  readonly fulfilment: FulfilmentSettings;
  /** Serve the HTTP API on this port (0: any free one); without it, no HTTP server (in-process use). */
  readonly http?: { readonly host: string; readonly port: number };
  readonly transport?: Transport;
  readonly closeTransport?: boolean;
  readonly middleware?: readonly Middleware[];
  readonly logger?: Logger;
  /** Serves `GET /metrics` (the Prometheus exporter of `startSampleTelemetry`); without it, no route. */
  readonly metrics?: (request: IncomingMessage, response: ServerResponse) => void;
  /** Where spans and metrics go; default the global OpenTelemetry providers (what the SDK registers). */
  readonly telemetry?: TelemetryOptions;
}

/**
 * The order service: places orders (the order row and `OrderPlaced` in one transaction), runs the
 * order-fulfilment saga and the notifier, serves the HTTP API. `createOrderService` builds it;
 * `start` migrates, starts the bus and listens; `stop` undoes that, HTTP first.
 */
export class OrderService {
  readonly db: SampleDatabase;
  readonly orders: OrderStore;
  readonly sagas: SagaRuntime;
  readonly bus: Bus;
  readonly api: FastifyInstance;
  /** The API's base URL once listening. */
  url: string | undefined;
  readonly #options: OrderServiceOptions;
  readonly #timeouts: BusTimeoutScheduler;

  constructor(options: OrderServiceOptions) {
    this.#options = options;
    this.db = new SampleDatabase(options.config.database, options.config.service, orderMigrations);
    this.orders = new OrderStore(this.db);
    this.#timeouts = new BusTimeoutScheduler();
    this.sagas = new SagaRuntime({
      store: this.db.sagaStore,
      sagas: [OrderFulfilment],
      scheduler: this.#timeouts,
      instantiate: () => new OrderFulfilment(this.orders, options.fulfilment),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    });
    this.bus = createServiceBus({
      ...options,
      db: this.db,
      handlers: [...this.sagas.handlers, OrderNotifier, OrderHistory],
      instances: new Map<HandlerClass, object>([
        [OrderNotifier, new OrderNotifier(this.db)],
        [OrderHistory, new OrderHistory(this.db)],
      ]),
    });
    this.#timeouts.attach(this.bus);
    this.api = orderApi(this, options.metrics);
  }

  async start(): Promise<void> {
    await this.db.start();
    await this.bus.start();
    const http = this.#options.http;
    if (http !== undefined) {
      await this.api.listen({ host: http.host, port: http.port });
      const address = this.api.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : http.port;
      this.url = `http://${http.host}:${port}`;
    }
  }

  async stop(): Promise<void> {
    await this.api.close();
    await this.bus.stop();
    await this.db.close();
  }

  /**
   * Places an order: prices its lines from the catalogue, then writes the order and `OrderPlaced` in one
   * transaction (the relay publishes the event once it commits). Returns the new order's id.
   */
  async placeOrder(customerId: string, lines: readonly { sku: string; quantity: number }[]): Promise<string> {
    if (typeof customerId !== 'string' || customerId.trim() === '')
      throw new InvalidOrderError('customerId is required');
    if (lines.length === 0) throw new InvalidOrderError('an order needs at least one line');
    const priced = lines.map((line) => {
      const unitPriceCents = CATALOG[line.sku];
      if (unitPriceCents === undefined)
        throw new InvalidOrderError(`unknown sku ${JSON.stringify(line.sku)}`);
      if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > 1000) {
        throw new InvalidOrderError(`quantity of ${line.sku} must be an integer from 1 to 1000`);
      }
      return { sku: line.sku, quantity: line.quantity, unitPriceCents };
    });
    const totalCents = priced.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
    const orderId = randomUUID();
    const placedAt = new Date();
    await this.bus.transaction(async ({ tx, publish }) => {
      await this.orders.insert(tx, {
        orderId,
        customerId,
        lines: priced,
        totalCents,
        currency: CURRENCY,
        placedAt: placedAt.toISOString(),
      });
      await publish(OrderPlaced, {
        orderId,
        customerId,
        lines: priced.map((line) => ({
          sku: line.sku,
          quantity: line.quantity,
          unitPrice: toAmount(line.unitPriceCents),
        })),
        total: toAmount(totalCents),
        currency: CURRENCY,
        couponCode: null,
        placedAt,
      });
    });
    return orderId;
  }
}
