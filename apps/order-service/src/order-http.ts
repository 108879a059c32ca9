import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { ErrorCode, NoResponderError, RemoteError, TimeoutError } from '@omnibus/core';
import { GetStock, readiness } from '@omnibus/sample-kit';
import { InvalidOrderError } from './order-errors.js';
import type { OrderService } from './order-service.js';

const placeOrderBody = {
  type: 'object',
  required: ['customerId', 'lines'],
  additionalProperties: false,
  properties: {
    customerId: { type: 'string', minLength: 1, maxLength: 100 },
    lines: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        type: 'object',
        required: ['sku', 'quantity'],
        additionalProperties: false,
        properties: {
          sku: { type: 'string', minLength: 1, maxLength: 100 },
          quantity: { type: 'integer', minimum: 1, maximum: 1000 },
        },
      },
    },
  },
} as const;

/**
 * The order service's HTTP API: `POST /orders` → 202 `{ orderId }`; `GET /orders/:id` → the order, its
 * status and history (404 when unknown); `GET /stock/:sku` → the inventory service's stock level, asked
 * over the bus (404 for an unknown SKU, 504 when the inventory does not answer in time, 503 when nothing
 * answers at all); `GET /healthz` (the bus runs, with its health report) and `GET /readyz` (the bus and
 * its broker are up and the database answers: see `readiness`), 503 otherwise; `GET /metrics`
 * (Prometheus) when `metrics` is given.
 */
export function orderApi(
  service: OrderService,
  metrics?: (request: IncomingMessage, response: ServerResponse) => void,
): FastifyInstance {
  const app = Fastify({ logger: false });
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error instanceof InvalidOrderError)
      return reply.code(400).send({ error: error.code, message: error.message });
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'BAD_REQUEST', message: error.message });
    }
    return reply.code(500).send({ error: 'INTERNAL', message: 'the order could not be placed; try again' });
  });

  app.post<{ Body: { customerId: string; lines: { sku: string; quantity: number }[] } }>(
    '/orders',
    { schema: { body: placeOrderBody } },
    async (request, reply) => {
      const orderId = await service.placeOrder(request.body.customerId, request.body.lines);
      return reply.code(202).header('location', `/orders/${orderId}`).send({ orderId });
    },
  );

  app.get<{ Params: { id: string } }>('/orders/:id', async (request, reply) => {
    const order = await service.orders.get(request.params.id);
    if (order === undefined) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such order' });
    return order;
  });

  app.get<{ Params: { sku: string } }>('/stock/:sku', async (request, reply) => {
    try {
      return await service.bus.request(GetStock, { sku: request.params.sku });
    } catch (error) {
      if (error instanceof RemoteError && error.remoteCode === 'UNKNOWN_SKU')
        return reply.code(404).send({ error: 'NOT_FOUND', message: error.message });
      if (error instanceof TimeoutError)
        return reply
          .code(504)
          .send({ error: ErrorCode.TIMEOUT, message: 'the inventory did not answer in time' });
      if (error instanceof NoResponderError)
        return reply
          .code(503)
          .send({ error: ErrorCode.NO_RESPONDER, message: 'no inventory service is running' });
      throw error;
    }
  });

  app.get('/healthz', async (_request, reply) => {
    const health = await service.bus.health();
    return reply.code(service.bus.state === 'started' ? 200 : 503).send(health);
  });

  app.get('/readyz', async (_request, reply) => {
    const report = await readiness(service.bus, service.db);
    return reply.code(report.ready ? 200 : 503).send(report);
  });

  if (metrics !== undefined) {
    app.get('/metrics', (request, reply) => {
      reply.hijack(); // the Prometheus exporter writes the response itself
      metrics(request.raw, reply.raw);
    });
  }
  return app;
}
