import type { OrderPlaced } from '../../../schemas/types.js';

/** A typical order event: two lines, money as decimal strings, a timestamp. */
export function sampleOrder(overrides: Partial<OrderPlaced> = {}): OrderPlaced {
  return {
    orderId: '0190f0c2-7a3b-7c1d-8e2f-123456789abc',
    customerId: 'customer-7',
    lines: [
      { sku: 'BOOK-1', quantity: 2, unitPrice: '12.50' },
      { sku: 'PEN-9', quantity: 1, unitPrice: '0.99' },
    ],
    total: '25.99',
    currency: 'EUR',
    couponCode: null,
    placedAt: new Date('2025-03-01T10:00:00.123Z'),
    ...overrides,
  };
}
