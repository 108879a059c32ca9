export { OrderService, type OrderServiceOptions } from './order-service.js';
export { OrderFulfilment, type FulfilmentSettings, type FulfilmentState } from './order-fulfilment-saga.js';
export { OrderNotifier } from './order-notifier.js';
export { OrderHistory } from './order-history.js';
export { OrderStore, type OrderLineView, type OrderView } from './order-store.js';
export { FINAL_STATUSES, type OrderStatus } from './order-tables.js';
export { InvalidOrderError } from './order-errors.js';
export { CATALOG, CURRENCY } from './catalog.js';
export { readOrderServiceEnv } from './order-service-env.js';
