// The order service as a process: configured by its environment (see readOrderServiceEnv), stopped by SIGTERM.
import 'reflect-metadata';
import { runServiceMain } from '@omnibus/sample-kit';
import { OrderService } from './order-service.js';
import { readOrderServiceEnv } from './order-service-env.js';

const env = readOrderServiceEnv();
await runServiceMain(env.config, async (avro, logger, telemetry) => {
  const service = new OrderService({ ...env, avro, logger, metrics: telemetry.metrics });
  await service.start();
  return service;
});
