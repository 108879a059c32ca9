// The payment service as a process: configured by its environment (see readSampleConfig, and
// OMNIBUS_GATEWAY_LATE_MS, default 15 s), stopped by SIGTERM. Start two on one database: competing consumers.
import 'reflect-metadata';
import { integer, readSampleConfig, runServiceMain } from '@omnibus/sample-kit';
import { PaymentService } from './payment-service.js';

const config = readSampleConfig('payment-service');
const lateMs = integer(process.env, 'OMNIBUS_GATEWAY_LATE_MS', 15_000);
await runServiceMain(config, async (avro, logger) => {
  const service = new PaymentService({ config, avro, lateMs, logger });
  await service.start();
  return service;
});
