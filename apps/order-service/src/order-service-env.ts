import { integer, readSampleConfig, text } from '@omnibus/sample-kit';
import type { SampleConfig } from '@omnibus/sample-kit';
import type { FulfilmentSettings } from './order-fulfilment-saga.js';

export interface OrderServiceEnv {
  readonly config: SampleConfig;
  readonly fulfilment: FulfilmentSettings;
  /** `OMNIBUS_HTTP_HOST` (default 127.0.0.1) and `PORT` (default 3000). */
  readonly http: { readonly host: string; readonly port: number };
}

/**
 * The order service's environment: the shared variables (see `readSampleConfig`), the HTTP address, and
 * `OMNIBUS_PAYMENT_TIMEOUT_MS` (default 10 s) and `OMNIBUS_LATE_PAYMENT_GRACE_MS` (default 1 h).
 */
export function readOrderServiceEnv(env: NodeJS.ProcessEnv = process.env): OrderServiceEnv {
  return {
    config: readSampleConfig('order-service', env),
    fulfilment: {
      paymentTimeoutMs: integer(env, 'OMNIBUS_PAYMENT_TIMEOUT_MS', 10_000),
      latePaymentGraceMs: integer(env, 'OMNIBUS_LATE_PAYMENT_GRACE_MS', 3_600_000),
    },
    http: { host: text(env, 'OMNIBUS_HTTP_HOST') ?? '127.0.0.1', port: integer(env, 'PORT', 3000) },
  };
}
