// The inventory service as a process: configured by its environment (see readSampleConfig), stopped by SIGTERM.
import 'reflect-metadata';
import { readSampleConfig, runServiceMain } from '@omnibus/sample-kit';
import { InventoryService } from './inventory-service.js';

const config = readSampleConfig('inventory-service');
await runServiceMain(config, async (avro, logger) => {
  const service = new InventoryService({ config, avro, logger });
  await service.start();
  return service;
});
