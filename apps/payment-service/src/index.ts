export { PaymentService, type LedgerEntry, type PaymentServiceOptions } from './payment-service.js';
export { PaymentHandlers } from './payment-handlers.js';
export { GatewayUnavailableError, behaviourOf, type GatewayBehaviour } from './fake-gateway.js';
